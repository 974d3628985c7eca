"""The loadbalancer conformance suite on aws (ELBv2), replayed from cassettes recorded against moto."""

from __future__ import annotations

from typing import ClassVar

from cloudkit import Cloud, Target
from cloudkit.testing.loadbalancer import LoadBalancerConformance


class TestAwsLoadBalancerConformance(LoadBalancerConformance):
    """Every loadbalancer conformance test on aws (``cloudkit_cloud`` comes from tests/aws/conftest.py)."""

    listener_port: ClassVar[int] = 8080  # ELB cannot pick a free port

    def make_targets(self, cloud: Cloud) -> list[Target]:
        """Three EC2 instances (aws target groups take instances)."""
        image = next(iter(cloud.compute.list_images()))
        made = [cloud.compute.create_instance(f"lb-target-{i}", image=image, instance_type="t3.micro", wait=False)
                for i in range(3)]
        return [Target(instance_id=inst.id, port=9001 + i) for i, inst in enumerate(made)]
