from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InKindEntitlementConfig(AppConfig):
    name = "addons.g2p_entitlement_in_kind"
    label = "g2p_entitlement_in_kind"
    verbose_name = _("In-kind Entitlements")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from addons.g2p_entitlement_in_kind import (  # noqa: F401 - registers the manager
            program_managers,
            roles,
        )
        from g2p_registry_base.roles import register_addon_roles

        register_addon_roles(self, roles.ROLE_PERMISSIONS)
