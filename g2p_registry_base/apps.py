from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryBaseConfig(AppConfig):
    name = "g2p_registry_base"
    verbose_name = _("Registry")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from g2p_registry_base import roles

        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)
