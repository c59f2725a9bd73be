"""Errors of the REST API, all rendered as ``{"detail": …}``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

Loc = Sequence[str | int]

NOT_FOUND = "Record is not present in the database."

# Model field -> request key, where the two differ.
_REQUEST_KEYS = {"kinds": "kind", "phone_sanitized": "phone_no"}


class InputError(Exception):
    """Bad input, as a list of ``{"loc", "msg", "type"}`` like request validation errors (422)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @classmethod
    def at(cls, loc: Loc, message: str) -> InputError:
        return cls([{"loc": list(loc), "msg": message, "type": "value_error"}])


def input_error_from(exc: ValidationError, loc: Loc) -> InputError:
    """A Django ValidationError as an InputError whose locations name the request keys."""
    errors: list[dict[str, Any]] = []
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            where = list(loc)
            if field != NON_FIELD_ERRORS:
                where.append(_REQUEST_KEYS.get(field, field))
            errors += [{"loc": where, "msg": m, "type": "value_error"} for m in messages]
    else:
        errors = [{"loc": list(loc), "msg": m, "type": "value_error"} for m in exc.messages]
    return InputError(errors)


@contextmanager
def fields_at(*loc: str | int) -> Iterator[None]:
    """Report a ValidationError raised inside as an InputError located at ``loc``."""
    try:
        yield
    except ValidationError as exc:
        raise input_error_from(exc, loc) from exc
