from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentFilesConfig(AppConfig):
    name = "g2p_payment_files"
    verbose_name = _("Payment Files")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from g2p_payment_files import program_managers, roles

        program_managers.load()
        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)
