"""Back office of the proxy means test: the PMT configuration of a program with its indicators,
and the scores with their breakdown ("why this score"), searchable by registrant.

Saving a configuration calls :func:`g2p_pmt.services.pmt_config_changed` once the indicators
are saved, so the scores follow the configuration on every save.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from g2p_pmt import services
from g2p_pmt.models import PmtConfig, PmtIndicator, PmtScore
from g2p_registry_base.panels import Panel


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


def _breakdown_text(score: PmtScore) -> str:
    lines = [
        f"{e.get('indicator')}: {e.get('value')} × {e.get('weight')} = {e.get('points')}"
        for e in (score.breakdown or [])
    ]
    return f"{score.program.name} — " + "; ".join(lines) if lines else ""


def registrant_pmt_panel(registrant: Any, request: Any) -> Panel | None:
    """The registrant's score in every program with PMT, with why (one query)."""
    if not request.user.has_perm("g2p_pmt.view_pmtscore"):
        return None
    scores = list(
        PmtScore.objects.filter(registrant=registrant)
        .select_related("program")
        .order_by("program__name")
    )
    return Panel(
        key="pmt",
        title=str(_("Proxy means test")),
        columns=[str(_("Program")), str(_("Score")), str(_("Computed on"))],
        rows=[
            (s.program.name, s.score.normalize(), date_format(s.computed_at, "DATETIME_FORMAT"))
            for s in scores
        ],
        details=[_breakdown_text(s) for s in scores],
        empty_text=str(_("No PMT score: no program with PMT enabled scores this registrant.")),
    )
