"""CloudFormation-style stacks on every provider, built only on cloudkit's public API.

>>> from cloudkit_contrib.stacks import Stacks
>>> stacks = Stacks(cloud)                                    # doctest: +SKIP
>>> stacks.create("web", open("basic.json").read(), parameters={"InstanceTypeInput": "local.micro"})  # doctest: +SKIP

See docs/stacks.md for the template language, the resource types and the lifecycle.
"""

from cloudkit_contrib.stacks.engine import Change, Plan, StackEvent, Stacks, StackSummary, Validation
from cloudkit_contrib.stacks.resources import RESOURCE_TYPES
from cloudkit_contrib.stacks.template import Template, load_template

__all__ = ["RESOURCE_TYPES", "Change", "Plan", "StackEvent", "StackSummary", "Stacks", "Template", "Validation",
           "load_template"]
