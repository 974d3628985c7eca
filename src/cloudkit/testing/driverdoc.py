"""Generate the plugin author's reference in ``docs/plugins.md`` from the code.

The reference lists, for every family interface, each driver method a provider implements (its
signature as the interface declares it and what it must do, from the public method's docstring),
which operations the interface derives from others, the error constructors, ``ObjectReader`` and
the conformance kit's command-line options. It sits between two markers in ``docs/plugins.md``;
``tests/core/test_docs_plugins.py`` fails when it is stale. Regenerate it with::

    .venv/bin/python -m cloudkit.testing.driverdoc docs/plugins.md
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudkit.errors as errors_module
from cloudkit.services.base import Service

BEGIN = "<!-- BEGIN generated driver reference: python -m cloudkit.testing.driverdoc docs/plugins.md -->"
END = "<!-- END generated driver reference -->"


def _interfaces() -> list[type[Service]]:
    import cloudkit.services as services

    found: list[type[Service]] = []
    for name in sorted(services.__all__):
        obj = getattr(services, name)
        if isinstance(obj, type) and issubclass(obj, Service) and obj is not Service and obj.family:
            found.append(obj)
    return sorted(found, key=lambda cls: cls.family)


def _summary(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    paragraph = doc.split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def _driver_defs(cls: type) -> dict[str, ast.FunctionDef]:
    """The ``def _name`` nodes of ``cls``'s own source (also those declared under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    node = tree.body[0]
    assert isinstance(node, ast.ClassDef)
    found: dict[str, ast.FunctionDef] = {}

    def walk(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name.startswith("_") and not stmt.name.startswith("__"):
                found.setdefault(stmt.name, stmt)
            elif isinstance(stmt, ast.If):
                walk(stmt.body)

    walk(node.body)
    return found


def _signature(fn: ast.FunctionDef) -> str:
    args = ast.unparse(fn.args).removeprefix("self, ").removeprefix("self")
    returns = f" -> {ast.unparse(fn.returns)}" if fn.returns is not None else ""
    return f"{fn.name}({args}){returns}"


def _plain(sig: inspect.Signature) -> str:
    """A signature without ``self``, the quotes of postponed annotations and ``-> None``."""
    text = str(sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "self"]))
    return text.replace("'", "").removesuffix(" -> None")


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _family_section(cls: type[Service]) -> Iterator[str]:
    defs = _driver_defs(cls)
    derived: dict[str, tuple[str, ...]] = dict(cls.DERIVED)
    yield f"### {cls.family}: `{cls.__module__}.{cls.__qualname__}`"
    yield ""
    yield _summary(cls)
    yield ""
    yield "| driver method | what it must do |"
    yield "|---|---|"
    for op in cls.OPERATIONS:
        public = getattr(cls, op)
        fn = defs.get("_" + op)
        if fn is not None:
            signature = f"`{_escape(_signature(fn))}`"
        elif op in derived:
            signature = f"none (`{op}` is built in the interface)"
        else:
            signature = f"`_{op}` (not declared)"
        meaning = _summary(public)
        if op in derived:
            base = ", ".join(f"`{d}`" for d in derived[op])
            meaning += f" *Derived:* the interface builds it on {base}"
            meaning += "; implement the driver method only to do better." if fn is not None else "."
        yield f"| {signature} | {_escape(meaning)} |"
    yield ""


def _errors_section() -> Iterator[str]:
    yield "### Error constructors (`cloudkit.errors`)"
    yield ""
    yield "| constructor | meaning |"
    yield "|---|---|"
    for name in errors_module.__all__:
        cls = getattr(errors_module, name)
        sig = _plain(inspect.signature(cls.__init__))
        yield f"| `{_escape(name + sig)}` | {_escape(_summary(cls))} |"
    yield ""


def _reader_section() -> Iterator[str]:
    from cloudkit.streams import ObjectReader

    sig = _plain(inspect.signature(ObjectReader.__init__))
    yield "### `cloudkit.ObjectReader` (what `_get_object` returns)"
    yield ""
    yield f"`ObjectReader{sig}`"
    yield ""
    yield inspect.getdoc(ObjectReader) or ""
    yield ""
    for name in ("read", "iter_chunks", "close"):
        method = getattr(ObjectReader, name)
        msig = _plain(inspect.signature(method))
        doc = _summary(method) or "read up to ``size`` bytes (everything left when ``size`` is -1)"
        yield f"- `{name}{msig}`: {doc}"
    yield ""


class _Options:
    """Collects the options ``pytest_addoption`` declares (a stand-in for pytest's parser)."""

    def __init__(self) -> None:
        self.options: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def getgroup(self, *args: Any, **kwargs: Any) -> _Options:
        return self

    def addoption(self, *names: str, **kwargs: Any) -> None:
        self.options.append((names, kwargs))


def _kit_section() -> Iterator[str]:
    from cloudkit.testing import plugin

    collector = _Options()
    add: Callable[[Any], None] = plugin.pytest_addoption
    add(collector)
    yield "### Conformance kit options (`pytest --pyargs cloudkit.testing ...`)"
    yield ""
    yield "| option | meaning |"
    yield "|---|---|"
    for names, kwargs in collector.options:
        flag = names[0] + ("" if kwargs.get("action") == "store_true" else "=VALUE")
        yield f"| `{flag}` | {_escape(str(kwargs.get('help', '')))} |"
    yield ""


def render() -> str:
    """The generated reference, markers included."""
    lines = [BEGIN, "", "## Reference (generated from the code)", ""]
    lines += ["Driver methods receive validated, normalised arguments (ids, not models) from the public method of",
              "the same name without the underscore, and return what the public method returns. An operation",
              "listed as derived works once its foundations do; override its driver method for a better path.", ""]
    for cls in _interfaces():
        lines += list(_family_section(cls))
    lines += list(_errors_section())
    lines += list(_reader_section())
    lines += list(_kit_section())
    lines.append(END)
    return "\n".join(lines) + "\n"


def update(text: str) -> str:
    """``text`` (the page) with its generated reference replaced (appended when it has none)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        return head + render() + ("\n" + tail if tail else "")
    return text.rstrip("\n") + "\n\n" + render()


def main(argv: list[str] | None = None) -> int:
    """Rewrite the page named on the command line (default ``docs/plugins.md``)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "docs/plugins.md")
    path.write_text(update(path.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
