from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InKindEntitlementConfig(AppConfig):
    name = "addons.g2p_entitlement_in_kind"
    label = "g2p_entitlement_in_kind"
    verbose_name = _("In-kind Entitlements")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from addons.g2p_entitlement_in_kind import program_managers  # noqa: F401 - registers
