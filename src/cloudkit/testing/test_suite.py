"""Every conformance suite, for ``pytest --pyargs cloudkit.testing --cloudkit-profile=NAME``."""

from __future__ import annotations

import importlib

_SUITES = {
    "storage": "StorageConformance",
    "dns": "DNSConformance",
    "notification": "NotificationConformance",
    "database": "DatabaseConformance",
    "compute": "ComputeConformance",
    "platform": "PlatformConformance",
    "loadbalancer": "LoadBalancerConformance",
    "references": "ReferenceConformance",
}

for _family, _cls in _SUITES.items():
    try:
        _module = importlib.import_module(f"cloudkit.testing.{_family}")
    except ModuleNotFoundError:  # suite not written yet
        continue
    globals()[f"Test{_cls}"] = type(f"Test{_cls}", (getattr(_module, _cls),), {})
