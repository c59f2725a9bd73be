"""The back office's home page: registry figures and recent imports, for whoever may see them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """Add the registry figures (one aggregate query) and the five latest imports."""
    from g2p_registry_base.models import RegistryImport
    from g2p_registry_base.selectors import registry_counts

    user = request.user
    if user.has_perm("g2p_registry_base.view_individual") or user.has_perm(
        "g2p_registry_base.view_group"
    ):
        context["registry_counts"] = registry_counts()
    if user.has_perm("g2p_registry_base.view_registryimport"):
        context["recent_imports"] = list(
            RegistryImport.objects.select_related("created_by").defer("content", "errors")[:5]
        )
    return context
