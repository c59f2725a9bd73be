from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RestConfig(AppConfig):
    name = "addons.g2p_rest"
    label = "g2p_rest"
    verbose_name = _("REST API")
    default_auto_field = "django.db.models.BigAutoField"
