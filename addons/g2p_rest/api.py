"""The REST API (``/api/v1/``): OpenAPI document at ``openapi.json``, interactive docs at
``docs``. Every error is ``{"detail": …}``: 401 without valid credentials, 403 without the
right, 404 for unknown records, 422 for bad input (a list naming each field)."""

from __future__ import annotations

import logging

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from addons.g2p_rest.auth import AUTH
from addons.g2p_rest.errors import NOT_FOUND, InputError, input_error_from
from addons.g2p_rest.programs import programs_router, registrants_router
from addons.g2p_rest.registry import router as registry_router
from pbms import __version__

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="OpenG2P PBMS REST API",
    version=__version__,
    description=(
        "Registry and program data of OpenG2P PBMS. Authenticate with an API key "
        "(`Authorization: Bearer <key>` or `X-API-Key: <key>`) or HTTP Basic with a user's "
        "username and password. The caller's roles decide what it may read and write."
    ),
    auth=AUTH,
    urls_namespace="rest_v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("/registry", registry_router)
api.add_router("/programs", programs_router)
api.add_router("/registrants", registrants_router)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(
        request,
        {"detail": "Authentication credentials were not provided or are invalid."},
        status=401,
    )
    response["WWW-Authenticate"] = 'Basic realm="OpenG2P", charset="UTF-8"'
    return response


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(
        request, {"detail": str(exc) or "You are not allowed to do this."}, status=403
    )


@api.exception_handler(Http404)
@api.exception_handler(ObjectDoesNotExist)
def _missing(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(request, {"detail": NOT_FOUND}, status=404)


@api.exception_handler(InputError)
def _bad_input(request: HttpRequest, exc: InputError) -> HttpResponse:
    return api.create_response(request, {"detail": exc.errors}, status=422)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return _bad_input(request, input_error_from(exc, ["body"]))


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("REST call %s %s failed", request.method, request.path)
    return api.create_response(request, {"detail": "Internal Server Error"}, status=500)
