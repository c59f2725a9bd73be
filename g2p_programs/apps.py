from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProgramsConfig(AppConfig):
    name = "g2p_programs"
    verbose_name = _("Programs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from g2p_programs import program_managers, roles

        program_managers.load()
        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)
