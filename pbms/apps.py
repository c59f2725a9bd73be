from django.apps import AppConfig


class PbmsConfig(AppConfig):
    name = "pbms"
    verbose_name = "PBMS platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from g2p_programs.registry import registry
        from pbms import lookups

        lookups.register()

        registry.freeze()
