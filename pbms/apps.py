from django.apps import AppConfig


class PbmsConfig(AppConfig):
    name = "pbms"
    verbose_name = "PBMS platform"
    default_auto_field = "django.db.models.BigAutoField"
