"""Odoo's RPC services (``common``, ``db``, ``object``) over Django users and the model map.

Transport-neutral: :mod:`addons.g2p_rpc.views` decodes JSON-RPC or XML-RPC, calls
:func:`dispatch` and encodes the result or the error.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth import get_user_model
from django.db import transaction

from addons.g2p_rpc.errors import AccessDenied, AccessError, UserError
from addons.g2p_rpc.keys import api_key_user
from addons.g2p_rpc.models_map import ADAPTERS, PUBLIC_METHODS, ModelAdapter, build_registry

SERVER_VERSION = "17.0"
VERSION_INFO = {
    "server_version": SERVER_VERSION,
    "server_version_info": [17, 0, 0, "final", 0, ""],
    "server_serie": SERVER_VERSION,
    "protocol_version": 1,
}

# Password hashing is deliberately slow and every object call carries the password; a
# verified (uid, password, stored hash) triple is remembered briefly, keyed by an HMAC so no
# password is held in memory. Changing the password changes the stored hash, which voids it; a
# revoked API key stays usable for at most the TTL.
_CHECK_TTL = 300.0
_CHECK_MAX = 1024
_checked: dict[str, float] = {}


def db_name() -> str:
    return str(settings.DATABASES["default"]["NAME"])


@functools.cache
def registry() -> dict[str, ModelAdapter]:
    from addons.g2p_rpc.managers_map import manager_adapters
    from addons.g2p_rpc.programs_map import PROGRAM_ADAPTERS

    return build_registry((*ADAPTERS, *PROGRAM_ADAPTERS, *manager_adapters()))


def login(db: Any, login_name: Any, password: Any) -> Any:
    """The user authenticated by ``login_name`` / ``password`` on ``db``, or ``None``."""
    if db != db_name() or not isinstance(login_name, str) or not isinstance(password, str):
        return None
    user = django_authenticate(username=login_name, password=password)
    if user is None:
        # An API key stands in for the password (Odoo 14+), with the same login.
        candidate = get_user_model()._default_manager.filter(username=login_name).first()
        if candidate is not None and api_key_user(user=candidate, key=password):
            user = candidate
    if user is None or not user.is_active:
        return None
    return user


def _check_key(uid: int, password: str, stored: str) -> str:
    message = f"{uid}\0{password}\0{stored}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def check_credentials(db: Any, uid: Any, password: Any) -> Any:
    """The active user ``uid`` if ``password`` is theirs, else :class:`AccessDenied`."""
    if db != db_name() or not isinstance(uid, int) or not isinstance(password, str):
        raise AccessDenied()
    user = get_user_model()._default_manager.filter(pk=uid, is_active=True).first()
    if user is None:
        raise AccessDenied()
    key = _check_key(uid, password, user.password)
    now = time.monotonic()
    if _checked.get(key, 0.0) > now:
        return user
    if not user.check_password(password) and not api_key_user(user=user, key=password):
        raise AccessDenied()
    if len(_checked) >= _CHECK_MAX:
        _checked.clear()
    _checked[key] = now + _CHECK_TTL
    return user


def call_kw(user: Any, model: Any, method: Any, args: Any, kwargs: Any) -> Any:
    """Run ``model.method(*args, **kwargs)`` for ``user`` in one transaction."""
    if not isinstance(method, str) or not isinstance(model, str):
        raise TypeError("model and method must be strings")
    if method.startswith("_"):
        raise AccessError(f"Private methods (such as {method}) cannot be called remotely.")
    adapter = registry().get(model)
    if adapter is None:
        raise UserError(f"Object {model} doesn't exist")
    if method not in PUBLIC_METHODS and method not in adapter.extra_methods:
        raise AttributeError(f"The method '{method}' does not exist on the model '{model}'")
    args = list(args or [])
    kwargs = dict(kwargs or {})
    context = kwargs.get("context")
    if context is not None and not isinstance(context, dict):
        raise ValueError("context must be a dictionary")
    keeps_context: frozenset[str] = getattr(adapter, "context_methods", frozenset())
    if method not in ("search", "search_count", "search_read", "read", "name_search") and (
        method not in keeps_context
    ):
        kwargs.pop("context", None)
    with transaction.atomic():
        return getattr(adapter, method)(user, *args, **kwargs)


def common(method: str, params: list[Any]) -> Any:
    if method == "version":
        return dict(VERSION_INFO)
    if method in ("login", "authenticate"):
        if len(params) < 3:
            raise TypeError(f"{method}() takes the database, login and password")
        user = login(params[0], params[1], params[2])
        return user.pk if user is not None else False
    if method == "about":
        return "See https://openg2p.org"
    raise AttributeError(f"The method '{method}' does not exist on the service 'common'")


def db(method: str, params: list[Any]) -> Any:
    if method == "server_version":
        return SERVER_VERSION
    if method == "list":
        return [db_name()]
    if method == "db_exist":
        return bool(params) and params[0] == db_name()
    if method == "list_lang":
        return [["en_US", "English (US)"]]
    raise AccessDenied()


def object_service(method: str, params: list[Any]) -> Any:
    if method == "execute_kw":
        if len(params) < 6:
            raise TypeError("execute_kw() takes db, uid, password, model, method, args[, kwargs]")
        database, uid, password, model, name, args = params[:6]
        kwargs = params[6] if len(params) > 6 else {}
    elif method == "execute":
        if len(params) < 5:
            raise TypeError("execute() takes db, uid, password, model, method, *args")
        database, uid, password, model, name = params[:5]
        args, kwargs = params[5:], {}
    else:
        raise AttributeError(f"The method '{method}' does not exist on the service 'object'")
    user = check_credentials(database, uid, password)
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
        raise TypeError("args must be a list and kwargs a dictionary")
    return call_kw(user, model, name, args, kwargs)


SERVICES = {"common": common, "db": db, "object": object_service}


def dispatch(service: Any, method: Any, params: Any) -> Any:
    handler = SERVICES.get(service) if isinstance(service, str) else None
    if handler is None:
        raise ValueError(f"No service {service!r}")
    if not isinstance(method, str):
        raise TypeError("method must be a string")
    return handler(method, list(params or []))
