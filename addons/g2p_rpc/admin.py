from django.contrib import admin

from addons.g2p_rpc.models import RpcApiKey


@admin.register(RpcApiKey)
class RpcApiKeyAdmin(admin.ModelAdmin):
    """Keys are listed and revoked here; they are made with ``manage.py g2p_rpc_key``."""

    list_display = ("name", "user", "index", "scope", "active", "create_date", "expiration_date")
    list_filter = ("active", "scope")
    search_fields = ("name", "user__username", "index")
    readonly_fields = ("user", "index", "scope", "create_date")
    fields = ("name", "user", "index", "scope", "active", "create_date", "expiration_date")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
