"""API keys in the back office: the key is shown once, right after it is made."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext as _
from unfold.admin import ModelAdmin

from addons.g2p_rest.models import ApiKey
from addons.g2p_rest.services import api_key_create


@admin.register(ApiKey)
class ApiKeyAdmin(ModelAdmin):
    list_display = ["name", "user", "prefix", "active", "created", "last_used"]
    list_filter = ["active"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "created", "last_used"]
    fields = ["name", "user", "active", "prefix", "created", "last_used"]
    autocomplete_fields: list[str] = []

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The user of an existing key cannot change: make a new key instead.
        return [*self.readonly_fields, "user"] if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = api_key_create(user=obj.user, name=obj.name)
        obj.pk = key.pk
        obj.prefix, obj.key_hash, obj.created = key.prefix, key.key_hash, key.created
        messages.warning(
            request,
            _("API key for %(user)s: %(key)s — copy it now, it will not be shown again.")
            % {"user": obj.user, "key": raw},
        )
