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

        from g2p_registry_base.signals import registrants_changed

        registrants_changed.connect(_refresh_scores, dispatch_uid="g2p_pmt.refresh_scores")

        from g2p_pmt.admin import registrant_pmt_panel
        from g2p_registry_base.panels import register_registrant_panel

        register_registrant_panel(registrant_pmt_panel)


def _refresh_scores(*, registrant_ids: list[int], **_: object) -> None:
    """Keep the scores of changed registrants (and their groups) current, in the same
    transaction as the change."""
    from g2p_pmt.services import pmt_scores_refresh

    pmt_scores_refresh(registrant_ids=registrant_ids)
