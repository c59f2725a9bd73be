"""HTTP endpoints of the Odoo external API: JSON-RPC, XML-RPC and the web session routes.

All are CSRF-exempt (credentials travel in the body or the session cookie, as with Odoo) and
answer HTTP 200 with a protocol-level error on failure.
"""

from __future__ import annotations

import json
import logging
import traceback
import xmlrpc.client
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from addons.g2p_rpc import dispatch as rpc
from addons.g2p_rpc.errors import (
    AccessDenied,
    OdooError,
    SessionExpired,
    error_data,
    to_odoo,
)

logger = logging.getLogger(__name__)

_MAX_BODY = 20 * 1024 * 1024


class _BadRequest(Exception):
    pass


def _debug(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) if settings.DEBUG else ""


def _log(exc: BaseException) -> None:
    """Log unexpected failures with their traceback; refusals and bad input are routine."""
    name = to_odoo(exc)[0]
    if name.startswith(("odoo.", "builtins.ValueError", "builtins.TypeError")) or isinstance(
        exc, OdooError | AttributeError | KeyError
    ):
        logger.info("RPC call refused: %s", name)
        return
    logger.exception("RPC call failed", exc_info=exc)


def _json_error(request_id: Any, exc: BaseException) -> JsonResponse:
    _log(exc)
    if isinstance(exc, SessionExpired):
        code, message = 100, "Odoo Session Expired"
    else:
        code, message = 200, "Odoo Server Error"
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": code, "message": message, "data": error_data(exc, debug=_debug(exc))},
    }
    return JsonResponse(body)


def _json_call(request: HttpRequest, handler: Callable[[dict[str, Any]], Any]) -> HttpResponse:
    request_id = None
    try:
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise _BadRequest("Invalid JSON data") from exc
        if not isinstance(payload, dict):
            raise _BadRequest("Invalid JSON-RPC request")
        request_id = payload.get("id")
        params = payload.get("params") or {}
        if not isinstance(params, dict):
            raise _BadRequest("params must be an object")
        result = handler(params)
    except _BadRequest as exc:
        return _json_error(request_id, ValueError(str(exc)))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a JSON-RPC error
        return _json_error(request_id, exc)
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if result is not None:
        body["result"] = result
    return JsonResponse(body, json_dumps_params={"default": str})


@csrf_exempt
@require_POST
def jsonrpc(request: HttpRequest) -> HttpResponse:
    def handler(params: dict[str, Any]) -> Any:
        return rpc.dispatch(params.get("service"), params.get("method"), params.get("args"))

    return _json_call(request, handler)


def _no_none(value: Any) -> Any:
    """XML-RPC cannot carry ``None``; Odoo methods return ``False`` instead."""
    if value is None:
        return False
    if isinstance(value, dict):
        return {str(k): _no_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_none(v) for v in value]
    return value


def _xml_fault(exc: BaseException, legacy: bool) -> xmlrpc.client.Fault:
    _log(exc)
    name, message, code, kind = to_odoo(exc)
    if legacy:
        if isinstance(exc, AccessDenied):
            return xmlrpc.client.Fault("AccessDenied", message)
        if name.startswith("odoo.exceptions."):
            return xmlrpc.client.Fault(f"warning -- {kind}\n\n{message}", "")
        return xmlrpc.client.Fault(message, _debug(exc) or message)
    if code == 1:
        return xmlrpc.client.Fault(1, _debug(exc) or f"{name}: {message}")
    return xmlrpc.client.Fault(code, message)


def _xmlrpc(request: HttpRequest, service: str, *, legacy: bool) -> HttpResponse:
    try:
        if len(request.body) > _MAX_BODY:
            raise ValueError("Request too large")
        params, method = xmlrpc.client.loads(request.body, use_datetime=True)
        result = rpc.dispatch(service, method, list(params))
        text = xmlrpc.client.dumps((_no_none(result),), methodresponse=True, allow_none=False)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a fault
        text = xmlrpc.client.dumps(_xml_fault(exc, legacy), methodresponse=True)
    return HttpResponse(text, content_type="text/xml; charset=utf-8")


@csrf_exempt
@require_POST
def xmlrpc_v2(request: HttpRequest, service: str) -> HttpResponse:
    return _xmlrpc(request, service, legacy=False)


@csrf_exempt
@require_POST
def xmlrpc_legacy(request: HttpRequest, service: str) -> HttpResponse:
    return _xmlrpc(request, service, legacy=True)


@csrf_exempt
def version_info(request: HttpRequest) -> HttpResponse:
    return _json_call(request, lambda params: dict(rpc.VERSION_INFO))


@csrf_exempt
def database_list(request: HttpRequest) -> HttpResponse:
    return _json_call(request, lambda params: [rpc.db_name()])


def _session_info(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    context = rpc.registry()["res.users"].context_get(user)  # type: ignore[attr-defined]
    return {
        "uid": user.pk,
        "is_system": bool(user.is_superuser),
        "is_admin": bool(user.is_superuser or user.is_staff),
        "is_public": False,
        "is_internal_user": True,
        "user_context": context,
        "db": rpc.db_name(),
        "username": user.get_username(),
        "name": user.get_full_name() or user.get_username(),  # type: ignore[union-attr]
        "partner_id": False,
        "server_version": rpc.SERVER_VERSION,
        "server_version_info": rpc.VERSION_INFO["server_version_info"],
        "web.base.url": request.build_absolute_uri("/").rstrip("/"),
        "user_companies": False,
        "currencies": {},
    }


@csrf_exempt
@require_POST
def session_authenticate(request: HttpRequest) -> HttpResponse:
    def handler(params: dict[str, Any]) -> Any:
        user = rpc.login(params.get("db"), params.get("login"), params.get("password"))
        if user is None:
            raise AccessDenied()
        django_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return _session_info(request)

    return _json_call(request, handler)


def _session_user(request: HttpRequest) -> Any:
    if not request.user.is_authenticated or not request.user.is_active:
        raise SessionExpired()
    return request.user


@csrf_exempt
@require_POST
def session_get_info(request: HttpRequest) -> HttpResponse:
    def handler(params: dict[str, Any]) -> Any:
        _session_user(request)
        return _session_info(request)

    return _json_call(request, handler)


@csrf_exempt
@require_POST
def session_destroy(request: HttpRequest) -> HttpResponse:
    def handler(params: dict[str, Any]) -> Any:
        django_logout(request)
        return None

    return _json_call(request, handler)


@csrf_exempt
@require_POST
def call_kw(
    request: HttpRequest, model: str | None = None, method: str | None = None
) -> HttpResponse:
    def handler(params: dict[str, Any]) -> Any:
        user = _session_user(request)
        kwargs = dict(params.get("kwargs") or {})
        if "context" in params and "context" not in kwargs:
            kwargs["context"] = params["context"]
        return rpc.call_kw(
            user, params.get("model"), params.get("method"), params.get("args"), kwargs
        )

    return _json_call(request, handler)


def _clean_action(action: Any) -> Any:
    """What ``/web/dataset/call_button`` returns: the action a button gave, cleaned as Odoo's
    ``clean_action`` does (a default ``type``; window actions get ``views`` from their
    ``view_mode``, "tree" read as "list"), or ``False`` when the button gave no action."""
    if not isinstance(action, dict) or action.get("type") == "":
        return False
    action = dict(action)
    action.setdefault("type", "ir.actions.act_window_close")
    if action["type"] == "ir.actions.act_window":
        modes = [
            "list" if mode == "tree" else mode
            for mode in str(action.get("view_mode") or "tree,form").split(",")
        ]
        action["view_mode"] = ",".join(modes)
        if not action.get("views"):
            action["views"] = [[action.get("view_id") or False, mode] for mode in modes]
    return action


@csrf_exempt
@require_POST
def call_button(request: HttpRequest, path: str | None = None) -> HttpResponse:
    """``/web/dataset/call_button``: ``call_kw`` for a button method (same params, the
    session's user), answering with the cleaned action or ``False``."""

    def handler(params: dict[str, Any]) -> Any:
        user = _session_user(request)
        kwargs = dict(params.get("kwargs") or {})
        if "context" in params and "context" not in kwargs:
            kwargs["context"] = params["context"]
        result = rpc.call_kw(
            user, params.get("model"), params.get("method"), params.get("args"), kwargs
        )
        return _clean_action(result)

    return _json_call(request, handler)
