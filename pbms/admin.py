from django.contrib import admin
from unfold.admin import ModelAdmin

from pbms.models import JobProgress


@admin.register(JobProgress)
class JobProgressAdmin(ModelAdmin):
    list_display = [
        "id",
        "operation",
        "target",
        "state",
        "done",
        "total",
        "error_count",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", "operation"]
    readonly_fields = [f.name for f in JobProgress._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
