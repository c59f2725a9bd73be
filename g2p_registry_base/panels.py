"""Panels other apps add to the registrant form (below the form, read only).

An app registers a function ``panel(registrant, request) -> Panel | None`` in its ``ready()``;
the individual and group forms render every panel that returns something, in registration
order. A panel checks its own permissions (return ``None`` to show nothing) and should cost a
constant number of queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class Panel:
    """A titled table: ``columns`` headings and ``rows`` of cell texts (HTML-escaped when
    rendered); ``details`` is an optional pre-formatted text per row (e.g. a breakdown)."""

    key: str
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    details: Sequence[str] = field(default_factory=tuple)
    empty_text: str = ""


PanelFunction = Callable[[Any, HttpRequest], Panel | None]
_PANELS: list[PanelFunction] = []


def register_registrant_panel(function: PanelFunction) -> PanelFunction:
    if function not in _PANELS:
        _PANELS.append(function)
    return function


def registrant_panels(registrant: Any, request: HttpRequest) -> list[Panel]:
    panels = (function(registrant, request) for function in _PANELS)
    return [p for p in panels if p is not None]
