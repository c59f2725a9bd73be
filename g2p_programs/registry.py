"""The manager registry: pluggable strategy classes chosen per program.

A program is configured with managers of seven kinds (:class:`~g2p_programs.choices.ManagerKind`).
A manager is a class registered here under a stable ``key`` (stored in database rows, so it never
changes) with a pydantic ``Config`` model; a :class:`~g2p_programs.models.ManagerAssignment` row
attaches one to a program with its JSON configuration, validated against that model.

Add-on apps only register classes (in their ``AppConfig.ready()``); the registry is frozen once
Django has started, so the set of managers cannot change while requests are served.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

import pydantic
from django.core.exceptions import ValidationError

from g2p_programs.choices import ManagerKind


class ManagerConfig(pydantic.BaseModel):
    """Base of every manager's configuration: unknown keys are refused, not dropped."""

    model_config = pydantic.ConfigDict(extra="forbid")


class BaseManager:
    """A strategy class of one manager kind.

    Subclasses set ``key`` (short stable slug), ``kind``, ``label`` and ``Config``. An instance
    is bound to a program and its validated configuration; managers hold no other state.
    """

    key: ClassVar[str]
    kind: ClassVar[ManagerKind]
    label: ClassVar[str]
    upstream_model: ClassVar[str] = ""
    Config: ClassVar[type[ManagerConfig]] = ManagerConfig

    def __init__(self, *, program: Any, config: ManagerConfig, assignment: Any = None) -> None:
        self.program = program
        self.config = config
        self.assignment = assignment

    @classmethod
    def validate_config(cls, data: dict[str, Any] | None) -> ManagerConfig:
        """``data`` as this manager's ``Config``, or ValidationError naming each bad key."""
        try:
            return cls.Config.model_validate(data or {})
        except pydantic.ValidationError as exc:
            errors: dict[str, list[str]] = {}
            for error in exc.errors():
                path = ".".join(str(p) for p in error["loc"]) or "config"
                errors.setdefault("config", []).append(f"{path}: {error['msg']}")
            raise ValidationError(errors) from exc

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        """JSON Schema of the configuration (renders the back-office form)."""
        return cls.Config.model_json_schema()


M = TypeVar("M", bound=type[BaseManager])


class ManagerRegistry:
    """Kind -> key -> manager class; frozen after start-up."""

    def __init__(self) -> None:
        self._classes: dict[ManagerKind, dict[str, type[BaseManager]]] = {
            k: {} for k in ManagerKind
        }
        self._frozen = False

    def register(self, cls: M) -> M:
        """Class decorator: register ``cls`` under its kind and key."""
        if self._frozen:
            raise RuntimeError(
                "the manager registry is frozen; register managers in AppConfig.ready()"
            )
        for attr in ("key", "kind", "label"):
            if not getattr(cls, attr, None):
                raise TypeError(f"{cls.__name__} must define {attr!r}")
        kind = ManagerKind(cls.kind)
        existing = self._classes[kind].get(cls.key)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"{kind} manager key {cls.key!r} is already used by {existing.__name__}"
            )
        self._classes[kind][cls.key] = cls
        return cls

    def freeze(self) -> None:
        self._frozen = True

    @contextmanager
    def temporarily(self, *classes: type[BaseManager]) -> Iterator[None]:
        """Register ``classes`` for the duration of a block (tests of add-on contracts)."""
        saved = {k: dict(v) for k, v in self._classes.items()}
        frozen, self._frozen = self._frozen, False
        try:
            for cls in classes:
                self.register(cls)
            yield
        finally:
            self._classes = saved
            self._frozen = frozen

    def get(self, kind: ManagerKind | str, key: str) -> type[BaseManager]:
        try:
            return self._classes[ManagerKind(kind)][key]
        except (KeyError, ValueError):
            raise ValidationError({"manager_key": f"Unknown {kind} manager {key!r}."}) from None

    def keys(self, kind: ManagerKind | str) -> list[str]:
        return sorted(self._classes[ManagerKind(kind)])

    def choices(self, kind: ManagerKind | str) -> list[tuple[str, str]]:
        classes = self._classes[ManagerKind(kind)]
        return [(key, str(classes[key].label)) for key in sorted(classes)]


registry = ManagerRegistry()
