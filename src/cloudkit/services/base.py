"""The shared base of every service: provider name, settings, capabilities, ``NotSupported``.

Each family interface (``StorageService``, ``DNSService``, ...) defines *public* methods that
normalise arguments (a model or its id), validate input through :mod:`cloudkit.validation`
before anything touches a network or a disk, and then call a *driver method* of the same name
with a leading underscore (``create_bucket`` -> ``_create_bucket``). A provider implements the
driver methods it supports; every driver method it leaves alone raises :class:`NotSupported`
naming the provider and the operation, and is left out of :meth:`Service.capabilities`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn

from cloudkit.errors import NotSupported
from cloudkit.settings import Settings


class Service:
    """Base class of all family services.

    Subclasses set ``family`` (the family name) and ``OPERATIONS`` (the public operation names).
    ``DERIVED`` maps operations implemented in the interface itself to the driver operations they
    are built on: such an operation is supported when all of those are.
    """

    family: ClassVar[str] = ""
    OPERATIONS: ClassVar[tuple[str, ...]] = ()
    DERIVED: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A family interface routes its public operations through the ``cloudkit_call`` hook.
        if "OPERATIONS" in cls.__dict__:
            from cloudkit.calls import instrument

            for op in cls.OPERATIONS:
                method = cls.__dict__.get(op)
                if method is not None and not getattr(method, "__cloudkit_instrumented__", False):
                    setattr(cls, op, instrument(op, method))

    def __init__(self, provider: str, settings: Mapping[str, Any] | None = None) -> None:
        self.provider = provider
        self.settings = settings if isinstance(settings, Settings) else Settings(settings or {})
        #: Operations the driver class implements but this instance cannot offer (decided at run
        #: time, for example a libcloud driver without presigned URLs), with the reason.
        self.unsupported: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider!r}>"

    @property
    def native(self) -> Any:
        """The provider's native client, for what the neutral API does not cover."""
        self._not_supported("native")

    def close(self) -> None:
        """Release connections, threads and servers this service holds. Safe to call twice."""

    def _interface(self) -> type[Service]:
        for klass in type(self).__mro__:
            if klass.__dict__.get("OPERATIONS") and klass.__dict__.get("family"):
                return klass
        return Service

    def _implements(self, operation: str) -> bool:
        if operation in self.unsupported:
            return False
        interface = self._interface()
        driver = "_" + operation
        mine = getattr(type(self), driver, None)
        if mine is not None and mine is not getattr(interface, driver, None):
            return True
        needs = self.DERIVED.get(operation)
        return needs is not None and all(self._implements(need) for need in needs)

    def capabilities(self) -> frozenset[str]:
        """The public operations this provider supports for this family."""
        return frozenset(op for op in self.OPERATIONS if self._implements(op))

    def supports(self, operation: str) -> bool:
        """Whether ``operation`` (a public method name) is supported here."""
        return operation in self.capabilities()

    def _not_supported(self, operation: str, reason: str | None = None) -> NoReturn:
        reason = reason or self.unsupported.get(operation)
        raise NotSupported(self.provider, f"{self.family}.{operation}", reason)


def unserved(interface: type[Service], provider: str, reason: str) -> Service:
    """A service of ``interface`` whose every operation raises ``NotSupported`` with ``reason``."""
    service = interface(provider, {})
    service.unsupported = {op: reason for op in interface.OPERATIONS}
    return service
