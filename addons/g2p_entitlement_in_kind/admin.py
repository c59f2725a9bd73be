"""Back office of in-kind entitlements: the goods of each entitlement and what was handed out."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from unfold.admin import ModelAdmin

from addons.g2p_entitlement_in_kind.models import EntitlementItemLine


@admin.register(EntitlementItemLine)
class EntitlementItemLineAdmin(ModelAdmin):
    list_display = (
        "entitlement",
        "product",
        "quantity",
        "quantity_distributed",
        "unit",
        "distributed_at",
    )
    list_filter = ("product", "entitlement__cycle__program")
    search_fields = ("entitlement__code", "entitlement__registrant__name", "product")
    list_select_related = ("entitlement",)
    readonly_fields = (
        "entitlement",
        "product",
        "unit",
        "quantity",
        "quantity_distributed",
        "distributed_at",
        "distributed_by",
    )

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
