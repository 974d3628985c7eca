"""The loadbalancer conformance suite, run on the local provider (HAProxy)."""

from __future__ import annotations

from cloudkit.testing.loadbalancer import LoadBalancerConformance


class TestLocalLoadBalancerConformance(LoadBalancerConformance):
    """Every provider-neutral load balancer test, against a local provider in a fresh root folder."""
