"""Reads of the proxy means test."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from g2p_pmt.models import PmtConfig, PmtScore
from g2p_pmt.queries import Indicator


def pmt_config_get(*, program: Any) -> PmtConfig | None:
    """The program's PMT configuration with its indicators (two queries), or None."""
    return PmtConfig.objects.filter(program=program).prefetch_related("indicators").first()


def pmt_configs_enabled() -> QuerySet[PmtConfig]:
    """Every enabled configuration with its program and indicators (two queries when
    evaluated)."""
    return (
        PmtConfig.objects.filter(enabled=True)
        .select_related("program")
        .prefetch_related("indicators")
        .order_by("pk")
    )


def pmt_indicators(*, config: PmtConfig) -> list[Indicator]:
    """The configuration's indicators in sequence order, as the scoring statement takes them
    (uses the prefetched rows when there are)."""
    rows = sorted(config.indicators.all(), key=lambda i: (i.sequence, i.pk))
    return [
        Indicator(
            name=i.name,
            source=i.source,
            key=i.key,
            value_type=i.value_type,
            weight=i.weight,
            aggregate=i.aggregate,
            choices=dict(i.choices or {}),
        )
        for i in rows
    ]


def pmt_score_list(*, program: Any) -> QuerySet[PmtScore]:
    """The program's scores, lowest first (``pmt_score_program_score_idx``); lazy."""
    return PmtScore.objects.filter(program=program).order_by("score", "registrant_id")
