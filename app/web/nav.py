"""Navigation entries: each page module declares its own ``NAV``; the menu shows what the roles allow."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    """A page in the menu and on the start page.

    ``label`` and ``hint`` are translation keys; ``roles`` who sees it (and may open it — the
    page's own role gate must say the same); ``order`` sorts the menu.
    """

    path: str
    label: str
    roles: frozenset[str]
    hint: str = ""
    order: int = 100


def visible(items: Iterable[NavItem], roles: frozenset[str]) -> list[NavItem]:
    return sorted((i for i in items if i.roles & roles), key=lambda i: (i.order, i.path))
