from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PmtConfig(AppConfig):
    name = "g2p_pmt"
    verbose_name = _("Proxy Means Test")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from g2p_pmt import program_managers  # noqa: F401 - registers the "pmt" manager
