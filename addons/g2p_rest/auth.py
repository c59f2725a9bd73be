"""Authentication of REST calls: an API key (``Authorization: Bearer <key>`` or ``X-API-Key``) or
HTTP Basic with a Django user's username and password, as upstream.

Every scheme sets ``request.user`` so that the registry's services check that user's rights.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja.security import APIKeyHeader, HttpBasicAuth, HttpBearer

from addons.g2p_rest.services import api_key_user


def _accept(request: HttpRequest, user: Any) -> Any:
    if user is None or not user.is_active:
        return None
    request.user = user
    return user


class BearerKey(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return _accept(request, api_key_user(raw=token))


class HeaderKey(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return _accept(request, api_key_user(raw=key or ""))


class BasicUser(HttpBasicAuth):
    def authenticate(self, request: HttpRequest, username: str, password: str) -> Any:
        return _accept(request, authenticate(request, username=username, password=password))


AUTH = [BearerKey(), HeaderKey(), BasicUser()]
