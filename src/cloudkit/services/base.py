"""The shared base of every service: operation declarations, capabilities, ``NotSupported``.

Each family interface (``StorageService``, ``DNSService``, ...) defines *public* methods that
normalise arguments (a model or its id), validate input through :mod:`cloudkit.validation`
before anything touches a network or a disk, and then call a *driver method* of the same name
with a leading underscore (``create_bucket`` -> ``_create_bucket``).

Every public operation is declared once, by the :func:`operation` decorator on its method::

    @operation()                                   # a primitive: the provider implements _create_bucket
    def create_bucket(self, name: str, *, region: str | None = None) -> Bucket: ...

    @operation(derives=("put_object",))            # built on other operations in the interface
    def upload_file(self, path, bucket, key, *, ...) -> ObjectInfo: ...

From the declarations the interface gets its ``OPERATIONS`` (in declaration order), its derived
operations, the ``cloudkit_call`` instrumentation of every public method, and a driver method for
every primitive operation that raises :class:`NotSupported` naming the provider and the operation
(the typed driver signatures are declared for type checkers only). A provider implements the
driver methods it supports; the rest drop out of :meth:`Service.capabilities`. Calling such an
operation validates its input and then raises ``NotSupported``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, TypeVar

from cloudkit.errors import NotSupported
from cloudkit.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

_DECLARATION = "__cloudkit_operation__"
_UNIMPLEMENTED = "__cloudkit_unimplemented__"


@dataclass(frozen=True)
class Operation:
    """The declaration of one public operation.

    ``name`` is the public method's name and ``driver`` the driver method a provider implements
    (``"_" + name``). ``derives`` names the operations a derived operation is built on in the
    interface: it is supported where the provider implements ``driver`` itself or all of those.
    """

    name: str
    driver: str
    derives: tuple[str, ...] = ()

    @property
    def derived(self) -> bool:
        """Whether the interface builds this operation on other operations."""
        return bool(self.derives)


def operation(*, derives: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Declare the decorated public method a service operation (see the module documentation)."""
    if isinstance(derives, str) or not all(isinstance(d, str) and d for d in derives):
        raise TypeError("derives must be a tuple of operation names")

    def declare(method: F) -> F:
        setattr(method, _DECLARATION, Operation(method.__name__, "_" + method.__name__, tuple(derives)))
        return method

    return declare


def _unimplemented(op: Operation) -> Callable[..., NoReturn]:
    def driver(self: Service, *args: Any, **kwargs: Any) -> NoReturn:
        self._not_supported(op.name)

    driver.__name__ = driver.__qualname__ = op.driver
    driver.__doc__ = f"Not implemented by this provider: ``{op.name}`` raises ``NotSupported``."
    setattr(driver, _UNIMPLEMENTED, True)
    return driver


def _gated(op: Operation, method: F) -> F:
    """``method`` with the support rule: ``NotSupported`` names the operation the caller called.

    A derived operation whose foundations the provider lacks validates its input first, like every
    other one, and then raises naming itself (not the missing primitive it reached).
    """

    @functools.wraps(method)
    def gate(self: Service, *args: Any, **kwargs: Any) -> Any:
        if not op.derived or self._implements(op.name):
            return method(self, *args, **kwargs)
        try:
            return method(self, *args, **kwargs)
        except NotSupported:
            pass
        self._not_supported(op.name)

    return gate  # type: ignore[return-value]


class Service:
    """Base class of all family services.

    Subclasses set ``family`` (the family name) and declare their public methods with
    :func:`operation`. ``OPERATIONS`` (the public operation names, in declaration order) and
    ``DERIVED`` (derived operation -> the operations it is built on) are computed from the
    declarations; do not set them by hand.
    """

    family: ClassVar[str] = ""
    OPERATIONS: ClassVar[tuple[str, ...]] = ()
    DERIVED: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: operation name -> its declaration (the family interface's own)
    DECLARATIONS: ClassVar[Mapping[str, Operation]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = {
            name: decl
            for name, value in cls.__dict__.items()
            if (decl := getattr(value, _DECLARATION, None)) is not None and not name.startswith("_")
        }
        if not declared:
            return
        # A family interface: operations, derived operations, driver stubs and instrumentation.
        from cloudkit.calls import instrument

        for decl in declared.values():
            for need in decl.derives:
                if need not in declared:
                    raise TypeError(f"{cls.__name__}.{decl.name} derives from {need!r}, which is not an operation")
        cls.DECLARATIONS = declared
        cls.OPERATIONS = tuple(declared)
        cls.DERIVED = {name: decl.derives for name, decl in declared.items() if decl.derived}
        for name, decl in declared.items():
            if not decl.derived and decl.driver not in cls.__dict__:
                setattr(cls, decl.driver, _unimplemented(decl))
            method = cls.__dict__[name]
            if not getattr(method, "__cloudkit_instrumented__", False):
                setattr(cls, name, instrument(name, _gated(decl, method)))

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
            if klass.__dict__.get("DECLARATIONS"):
                return klass
        return Service

    def _implements(self, operation: str) -> bool:
        if operation in self.unsupported:
            return False
        interface = self._interface()
        decl = interface.DECLARATIONS.get(operation)
        if decl is None:
            return False
        mine = getattr(type(self), decl.driver, None)
        if mine is not None and not getattr(mine, _UNIMPLEMENTED, False) and mine is not getattr(interface, decl.driver, None):
            return True
        return decl.derived and all(self._implements(need) for need in decl.derives)

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
