"""Measure how the aws provider's retries hold up behind the fault proxy (prints figures, asserts nothing).

Runs the fault scenario (object puts and gets, DNS upserts, publishes, instance creates) through
:class:`proxy.FaultProxy` in front of an in-process moto server on 127.0.0.1, at a fault rate
(default 50%), once per retry policy:

* ``default``: the provider's settings (botocore standard mode, ``max_attempts`` 5, with botocore's
  retry quota);
* ``no-quota``: the same with the retry quota never refusing a retry (botocore patched here only,
  to show what the quota costs);
* ``legacy``: ``retry_mode="legacy"`` (botocore's legacy retries: no quota).

For each kind of call it prints the failure rate, what ``max_attempts`` independent attempts would
predict (``rate ** attempts``), how many failed calls had in fact been applied and whether their
errors said so, and how many retries the quota refused. Backoff delays are scaled down
(``--backoff``, default 0.02) so a run takes seconds; attempts and the quota are untouched.

    .venv/bin/python tests/faults/measure.py [--rate 0.5] [--seed 11] [--objects 200] [--upserts 300]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenario as sc
from proxy import FaultProxy


@contextmanager
def quota_counter(disabled: bool) -> Iterator[list[int]]:
    """Count the retries botocore's retry quota refuses (``disabled``: it refuses none)."""
    from botocore.retries import standard

    original = standard.RetryQuotaChecker.acquire_retry_quota
    refused = [0]

    def acquire(self: Any, context: Any) -> bool:
        if disabled:
            return True
        ok = bool(original(self, context))
        if not ok:
            refused[0] += 1
        return ok

    standard.RetryQuotaChecker.acquire_retry_quota = acquire  # type: ignore[method-assign]
    try:
        yield refused
    finally:
        standard.RetryQuotaChecker.acquire_retry_quota = original  # type: ignore[method-assign]


def main() -> None:
    """Run the measurement and print one table per policy."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--upserts", type=int, default=300)
    parser.add_argument("--publishes", type=int, default=20)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--backoff", type=float, default=0.02)
    parser.add_argument("--policies", default="default,no-quota,legacy")
    args = parser.parse_args()
    os.environ.update(sc.environment())
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sizes = sc.Sizes(args.objects, args.upserts, args.publishes, args.instances)
    attempts = 5
    server = sc.start_moto()
    try:
        for policy in args.policies.split(","):
            server.reset()
            with FaultProxy(server.url, args.rate, seed=args.seed) as proxy, sc.fast_backoff(args.backoff), \
                    quota_counter(policy == "no-quota") as refused:
                extra = {"retry_mode": "legacy"} if policy == "legacy" else {}
                through, direct = sc.connect(proxy.url, **extra), sc.connect(server.url)
                results = sc.run(through, direct, sizes, sc.boto_factory(server.url))
                through.close()
                direct.close()
            print(f"\npolicy {policy}: fault rate {args.rate:.0%}, seed {args.seed}, {proxy.stats.requests} requests, "
                  f"faults {dict(sorted(proxy.stats.faults.items()))}, retries refused by the quota: {refused[0]}")
            print(f"{'call':<16}{'calls':>6}{'failed':>8}{'rate':>8}{'predicted':>10}{'applied':>9}{'flagged':>9}"
                  f"{'unflagged':>10}{'lost':>6}{'corrupt':>8}{'dupes':>7}{'untyped':>8}")
            for name, st in results.items():
                print(f"{name:<16}{st.calls:>6}{st.failed + st.untyped:>8}{st.failure_rate:>8.1%}"
                      f"{args.rate ** attempts:>10.1%}{st.applied:>9}{st.flagged:>9}{st.unflagged:>10}{st.lost:>6}"
                      f"{st.corrupt:>8}{st.duplicates:>7}{st.untyped:>8}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
