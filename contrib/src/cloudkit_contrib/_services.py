"""The one check the add-ons make of a "cloud or family service" argument."""

from __future__ import annotations

from typing import TypeVar, cast

from cloudkit import Cloud
from cloudkit.errors import InvalidInput
from cloudkit.services.base import Service

S = TypeVar("S", bound=Service)


def service_of(ref: object, family: str, interface: type[S], field: str) -> S:
    """``ref``'s service of ``family``: a :class:`~cloudkit.Cloud`'s, or ``ref`` itself when it is one.

    Anything else is :class:`~cloudkit.InvalidInput` naming ``field``.
    """
    if isinstance(ref, Cloud):
        return cast(S, ref.service(family))
    if isinstance(ref, interface):
        return ref
    raise InvalidInput(field, f"must be a cloudkit Cloud or {interface.__name__}, not {type(ref).__name__}")
