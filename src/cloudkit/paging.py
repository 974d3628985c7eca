"""The one paging helper: every ``list_*`` is a lazy iterator over pages fetched on demand."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def paginate(fetch: Callable[[Any], tuple[Iterable[T], Any]], first_token: Any = None) -> Iterator[T]:
    """Yield items page by page.

    ``fetch(token)`` returns ``(items, next_token)``; paging stops when ``next_token`` is ``None``
    (or empty). No page is fetched before the caller asks for its first item.
    """
    token = first_token
    while True:
        items, token = fetch(token)
        yield from items
        if not token:
            return
