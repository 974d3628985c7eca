"""Measure what libcloud's retries do behind the fault proxy (prints figures, asserts nothing).

Runs the libcloud fault scenario (:mod:`lc_scenario`: object puts and gets on Azurite through
``libcloud:azure_blobs`` and on moto through ``libcloud:s3``, record upserts on PowerDNS through
``libcloud:powerdns``) through :class:`proxy.FaultProxy` on 127.0.0.1, once per fault rate, with
the provider's retry settings (``retry_timeout`` 30 s, ``retry_delay`` 0.5 s, ``retry_backoff`` 2)
or with retries off (``--no-retries``). libcloud's sleeps run on a virtual clock, so a run takes
seconds and every call gets the attempts the real policy gives it.

For each kind of call it prints the failure rate, the cloudkit errors raised, how many failed
calls had in fact been applied, and the lost, corrupt and untyped counts (all should be 0).

    .venv/bin/python tests/faults/measure_libcloud.py [--rates 0.2,0.5] [--seed 11] [--objects 100] [--upserts 150]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lc_scenario as lc
import lc_servers as servers  # on sys.path through lc_scenario
from proxy import FaultProxy


def main() -> None:
    """Start the servers that are installed, run the scenario per fault rate and print one table each."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="0.2,0.5")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--objects", type=int, default=100)
    parser.add_argument("--upserts", type=int, default=150)
    parser.add_argument("--no-retries", action="store_true", help="retry_timeout=0 (libcloud's retries off)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    retry = {"retry_timeout": 0} if args.no_retries else {}
    for rate in (float(r) for r in args.rates.split(",")):
        started: dict[str, servers.Server] = {}
        proxies: list[FaultProxy] = []
        try:
            if servers.have_azurite():
                started["azure"] = servers.start_azurite()
            if servers.have_pdns():
                started["powerdns"] = servers.start_pdns()
            from moto.moto_api._internal.models import moto_api_backend

            moto_api_backend.reset()  # moto keeps its state in this process, across servers
            started["s3"] = servers.start_moto()

            def make_proxy(server: servers.Server, rate: float = rate, proxies: list[FaultProxy] = proxies) -> FaultProxy:
                proxy = FaultProxy(f"http://127.0.0.1:{server.port}", rate, seed=args.seed + len(proxies)).start()
                proxies.append(proxy)
                return proxy

            with lc.virtual_clock() as slept:
                results = lc.run(started, make_proxy, lc.Sizes(args.objects, args.upserts), **retry)
            requests = sum(p.stats.requests for p in proxies)
            faults: dict[str, int] = {}
            for p in proxies:
                for kind, n in p.stats.faults.items():
                    faults[kind] = faults.get(kind, 0) + n
            print(f"\nfault rate {rate:.0%}, seed {args.seed}, retries {'off' if retry else 'on'}: {requests} requests, "
                  f"faults {dict(sorted(faults.items()))}, retry sleeps {slept[0]:.1f} s (virtual)")
            print(f"{'call':<17}{'calls':>6}{'failed':>8}{'rate':>8}{'applied':>9}{'lost':>6}{'corrupt':>8}{'untyped':>8}"
                  f"{'retried ok':>12}{'retried failed':>16}  errors")
            for name, st in results.stats.items():
                tally = results.retried.get(name, lc.Retried())
                print(f"{name:<17}{st.calls:>6}{st.failed + st.untyped:>8}{st.failure_rate:>8.1%}{st.applied:>9}"
                      f"{st.lost:>6}{st.corrupt:>8}{st.untyped:>8}{tally.absorbed:>12}{tally.missed:>16}  {dict(st.errors)}")
        finally:
            for proxy in proxies:
                proxy.stop()
            for server in started.values():
                server.stop()


if __name__ == "__main__":
    main()
