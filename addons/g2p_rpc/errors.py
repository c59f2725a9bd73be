"""Odoo's exception classes as the RPC API reports them, and the mapping from Django's.

Clients look at the dotted class name (``data.name`` in JSON-RPC) and, over XML-RPC, at the
fault code; both are fixed per class here, with the values Odoo 17 uses.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError


class OdooError(Exception):
    """Base of the errors reported under an ``odoo.exceptions`` name."""

    odoo_name = "odoo.exceptions.UserError"
    xmlrpc_code = 2  # /xmlrpc/2: 2 = warning
    legacy_kind = "UserError"  # /xmlrpc: "warning -- <kind>"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserError(OdooError):
    pass


class ValidationError(OdooError):
    odoo_name = "odoo.exceptions.ValidationError"
    legacy_kind = "ValidationError"


class MissingError(OdooError):
    odoo_name = "odoo.exceptions.MissingError"
    legacy_kind = "MissingError"


class AccessError(OdooError):
    odoo_name = "odoo.exceptions.AccessError"
    xmlrpc_code = 4
    legacy_kind = "AccessError"


class AccessDenied(OdooError):
    odoo_name = "odoo.exceptions.AccessDenied"
    xmlrpc_code = 3
    legacy_kind = "AccessDenied"

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class SessionExpired(OdooError):
    odoo_name = "odoo.http.SessionExpiredException"
    legacy_kind = "SessionExpired"

    def __init__(self, message: str = "Session expired") -> None:
        super().__init__(message)


def validation_message(exc: DjangoValidationError, rename: dict[str, str] | None = None) -> str:
    """One line naming each field and its problem: ``"given_name: The given name is required."``."""
    rename = rename or {}
    if hasattr(exc, "error_dict"):
        parts = []
        for field, messages in exc.message_dict.items():
            text = " ".join(messages)
            if field == "__all__":
                parts.append(text)
            else:
                parts.append(f"{rename.get(field, field)}: {text}")
        return "\n".join(parts)
    return " ".join(exc.messages)


def to_odoo(exc: BaseException) -> tuple[str, str, int, str]:
    """``(odoo_name, message, xmlrpc fault code, legacy kind)`` of any exception.

    Errors that are not Odoo's (a bad argument, a bug) keep their builtin class name, as Odoo
    reports them, with fault code 1.
    """
    if isinstance(exc, OdooError):
        return exc.odoo_name, exc.message, exc.xmlrpc_code, exc.legacy_kind
    if isinstance(exc, DjangoValidationError):
        err = ValidationError(validation_message(exc))
        return err.odoo_name, err.message, err.xmlrpc_code, err.legacy_kind
    if isinstance(exc, PermissionDenied):
        err = AccessError(str(exc) or "Access Denied")
        return err.odoo_name, err.message, err.xmlrpc_code, err.legacy_kind
    if isinstance(exc, ObjectDoesNotExist):
        err = MissingError(str(exc))
        return err.odoo_name, err.message, err.xmlrpc_code, err.legacy_kind
    name = f"builtins.{type(exc).__name__}"
    if type(exc).__module__ not in ("builtins",):
        # Subclasses of builtins (DomainError is a ValueError) are reported as their base.
        for base in (ValueError, TypeError, KeyError, AttributeError):
            if isinstance(exc, base):
                name = f"builtins.{base.__name__}"
                break
        else:
            name = "builtins.Exception"
    message = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
    return name, message, 1, type(exc).__name__


def error_data(exc: BaseException, *, debug: str = "") -> dict[str, Any]:
    """The ``data`` member of a JSON-RPC error: name, message, arguments, context, debug."""
    name, message, _code, _kind = to_odoo(exc)
    return {
        "name": name,
        "message": message,
        "arguments": [message],
        "context": {},
        "debug": debug,
    }
