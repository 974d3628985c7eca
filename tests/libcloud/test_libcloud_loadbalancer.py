"""libcloud providers do not serve load balancers, and say why."""

from __future__ import annotations

import pytest

import cloudkit


@pytest.mark.parametrize("provider", ["libcloud:s3", "libcloud:ec2"])
def test_loadbalancer_is_not_supported_with_the_reason(provider: str) -> None:
    with cloudkit.connect(provider, region="us-east-1") as cloud:
        assert cloud.loadbalancer.capabilities() == frozenset()
        with pytest.raises(cloudkit.NotSupported, match="cannot be pointed at moto"):
            cloud.loadbalancer.create_load_balancer("web", listeners=[cloudkit.Listener(port=80)])
        with pytest.raises(cloudkit.InvalidInput):  # input is checked first, as everywhere
            cloud.loadbalancer.create_load_balancer("bad name")
