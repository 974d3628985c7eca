"""The drainer of a local load balancer: removes deregistered targets once their delay is over.

Run as ``python -m cloudkit_local._lbdrain --root ROOT --haproxy BIN --lb ID`` (detached, by
:meth:`cloudkit_local.loadbalancer.LocalLoadBalancer._spawn_drainer`); see
:meth:`~cloudkit_local.loadbalancer.LocalLoadBalancer.finish_draining`. It exits when no target of
the load balancer is draining any more, when the load balancer is deleted, or at once when another
drainer already serves that load balancer.
"""

from __future__ import annotations

import argparse

from cloudkit.errors import CloudkitError


def main(argv: list[str] | None = None) -> int:
    """Drain one load balancer; 0 when done, 1 when a cloudkit error stopped it (printed to its log)."""
    parser = argparse.ArgumentParser(prog="cloudkit_local._lbdrain")
    parser.add_argument("--root", required=True)
    parser.add_argument("--haproxy", required=True)
    parser.add_argument("--lb", required=True)
    args = parser.parse_args(argv)
    from cloudkit_local.loadbalancer import LocalLoadBalancer

    service = LocalLoadBalancer({"root": args.root, "haproxy_bin": args.haproxy})
    try:
        service.finish_draining(args.lb)
    except CloudkitError as exc:
        print(f"drainer of {args.lb} stopped: {exc}", flush=True)
        return 1
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
