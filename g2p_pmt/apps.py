from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PmtConfig(AppConfig):
    name = "g2p_pmt"
    verbose_name = _("Proxy Means Test")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from g2p_pmt import program_managers, roles  # noqa: F401 - registers the "pmt" manager
        from g2p_registry_base.roles import register_addon_roles

        register_addon_roles(self, roles.ROLE_PERMISSIONS)
