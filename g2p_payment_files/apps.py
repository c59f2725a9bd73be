from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentFilesConfig(AppConfig):
    name = "g2p_payment_files"
    verbose_name = _("Payment Files")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from g2p_payment_files import program_managers, roles
        from g2p_registry_base.roles import register_addon_roles

        program_managers.load()
        register_addon_roles(self, roles.ROLE_PERMISSIONS)
