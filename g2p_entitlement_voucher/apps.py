from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoucherEntitlementConfig(AppConfig):
    name = "g2p_entitlement_voucher"
    verbose_name = _("Voucher Entitlements")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from g2p_entitlement_voucher import (  # noqa: F401 - registers the manager and job plan
            program_managers,
            roles,
            services,
        )
        from g2p_registry_base.roles import register_addon_roles

        register_addon_roles(self, roles.ROLE_PERMISSIONS)

        from django.db.models.signals import post_migrate

        post_migrate.connect(_ensure_signing_key, sender=self)


def _ensure_signing_key(**kwargs: object) -> None:
    """A fresh installation has a signing key before the first voucher is issued."""
    from g2p_entitlement_voucher.keys import active_key

    active_key()
