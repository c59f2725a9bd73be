"""Back office of the proxy means test: the PMT configuration of a program with its indicators,
and the scores with their breakdown ("why this score"), searchable by registrant.

Saving a configuration calls :func:`g2p_pmt.services.pmt_config_changed` once the indicators
are saved, so the scores follow the configuration on every save.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from g2p_pmt import services
from g2p_pmt.models import PmtConfig, PmtIndicator, PmtScore


class PmtIndicatorInline(TabularInline):
    model = PmtIndicator
    extra = 0
    fields = ("sequence", "name", "source", "key", "value_type", "choices", "aggregate", "weight")


@admin.register(PmtConfig)
class PmtConfigAdmin(ModelAdmin):
    list_display = ("program", "enabled", "write_date")
    list_filter = ("enabled",)
    search_fields = ("program__name",)
    autocomplete_fields = ("program",)
    inlines = (PmtIndicatorInline,)

    def save_related(self, request: Any, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        outcome = services.pmt_config_changed(config=form.instance, actor=request.user)
        if "queued" in outcome:
            message = _("Computing the PMT scores of %d registrants started.") % outcome["queued"]
        elif "deleted" in outcome:
            message = _("PMT disabled: %d scores removed.") % outcome["deleted"]
        else:
            message = _("%d PMT scores updated.") % outcome["changed"]
        self.message_user(request, message, messages.SUCCESS)


@admin.register(PmtScore)
class PmtScoreAdmin(ModelAdmin):
    list_display = ("registrant", "program", "score", "computed_at")
    list_filter = ("program",)
    search_fields = ("registrant__name",)
    list_select_related = ("registrant", "program")
    fields = ("program", "registrant", "score", "computed_at", "why_this_score")
    readonly_fields = fields

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("why this score"))
    def why_this_score(self, obj: PmtScore) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.breakdown, indent=2))
