"""Proxy means test: per-program weighted indicators and the stored score of each registrant.

Upstream ``g2p_proxy_means_test`` stores a ``pmt_score`` on each application computed as the sum
of ``weight × value`` over the program's parameters. Here the parameters can read registrant
columns, keys of ``additional_g2p_info`` (numbers, yes/no, choices mapped to numbers) and, for
group programs, aggregates over the group's current members; scores are computed for the whole
registry by one set-based statement (:mod:`g2p_pmt.queries`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pghistory
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from g2p_pmt.choices import NUMERIC_FIELDS, Aggregate, IndicatorSource, ValueType
from g2p_programs.models import Program
from g2p_registry_base.models import Registrant, ValidatedModel, audit_trackers


@pghistory.track(*audit_trackers())
class PmtConfig(ValidatedModel):
    """The PMT configuration of one program (upstream ``pmt_config`` "Enable PMT" and its
    ``proxy_means_params_ids``). Scores exist only for programs whose configuration is enabled."""

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, related_name="pmt_config", verbose_name=_("program")
    )
    enabled = models.BooleanField(_("enable PMT"), default=True)
    write_date = models.DateTimeField(_("last updated on"), auto_now=True)

    class Meta:
        verbose_name = _("PMT configuration")
        verbose_name_plural = _("PMT configurations")

    def __str__(self) -> str:
        return f"PMT of {self.program}"


@pghistory.track(*audit_trackers())
class PmtIndicator(ValidatedModel):
    """One weighted indicator: ``points = weight × value``; the score is the sum of the points.

    - ``source=field``: a numeric registrant column of :data:`~g2p_pmt.choices.NUMERIC_FIELDS`;
    - ``source=info``: the ``key`` of ``additional_g2p_info`` read as a number (numbers and
      numeric strings; anything else is 0), a yes/no (true / "yes" / "1" = 1) or a choice
      (``choices`` maps each text value to a number; unknown values are 0);
    - ``aggregate`` other than ``own`` (group programs): that value combined over the group's
      current members (membership not ended, member not disabled).
    """

    config = models.ForeignKey(PmtConfig, on_delete=models.CASCADE, related_name="indicators")
    sequence = models.PositiveIntegerField(_("sequence"), default=10)
    name = models.CharField(_("name"), max_length=128)
    source = models.CharField(
        _("source"), max_length=8, choices=IndicatorSource.choices, default=IndicatorSource.INFO
    )
    key = models.CharField(
        _("field or key"),
        max_length=128,
        blank=True,
        help_text=_("A registrant field (income, age) or a key of the additional information."),
    )
    value_type = models.CharField(
        _("value type"), max_length=8, choices=ValueType.choices, default=ValueType.NUMBER
    )
    choices = models.JSONField(
        _("choice values"),
        default=dict,
        blank=True,
        help_text=_('For choices: each value and its number, e.g. {"mud": 3, "brick": 1}.'),
    )
    aggregate = models.CharField(
        _("aggregate"), max_length=8, choices=Aggregate.choices, default=Aggregate.OWN
    )
    weight = models.DecimalField(_("weight"), max_digits=14, decimal_places=4)

    class Meta:
        ordering = ["config", "sequence", "pk"]
        verbose_name = _("PMT indicator")
        constraints = [
            models.UniqueConstraint(fields=["config", "name"], name="pmt_indicator_unique_name"),
            models.CheckConstraint(
                condition=Q(source__in=IndicatorSource.values),
                name="pmt_indicator_source_valid",
            ),
            models.CheckConstraint(
                condition=Q(value_type__in=ValueType.values),
                name="pmt_indicator_value_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(aggregate__in=Aggregate.values),
                name="pmt_indicator_aggregate_valid",
            ),
            models.CheckConstraint(
                condition=~Q(key="") | Q(aggregate=Aggregate.COUNT),
                name="pmt_indicator_key_required",
                violation_error_message=_("Only a member count may leave the key empty."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} × {self.weight}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.source == IndicatorSource.FIELD:
            if self.key and self.key not in NUMERIC_FIELDS:
                errors["key"] = _("%(key)s is not a numeric registrant field (one of %(ok)s).") % {
                    "key": self.key,
                    "ok": ", ".join(NUMERIC_FIELDS),
                }
            if self.value_type != ValueType.NUMBER:
                errors["value_type"] = _("A registrant field is read as a number.")
        if self.value_type == ValueType.CHOICE:
            if not isinstance(self.choices, dict) or not self.choices:
                errors["choices"] = _("Give each choice value and its number.")
            else:
                for value, number in self.choices.items():
                    if isinstance(number, bool) or not isinstance(number, int | float | str):
                        errors["choices"] = _("%s: the number is missing.") % value
                        break
                    try:
                        Decimal(str(number))
                    except ArithmeticError:
                        errors["choices"] = _("%(value)s: %(number)r is not a number.") % {
                            "value": value,
                            "number": number,
                        }
                        break
        elif self.choices:
            errors["choices"] = _("Choice values are only used by choice indicators.")
        if errors:
            raise ValidationError(errors)


class PmtScore(models.Model):
    """The PMT score of a registrant in a program, with ``breakdown`` saying why: one entry
    ``{indicator, value, weight, points}`` per indicator, in sequence order.

    Written only by :func:`g2p_pmt.queries.upsert_pmt_scores` (``INSERT … ON CONFLICT DO
    UPDATE``); derived data, so not audited (the configuration that produced it is).
    """

    # indexed through pmt_score_unique_per_program and pmt_score_program_score_idx
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="pmt_scores", db_index=False
    )
    registrant = models.ForeignKey(Registrant, on_delete=models.CASCADE, related_name="pmt_scores")
    score = models.DecimalField(_("PMT score"), max_digits=20, decimal_places=6)
    breakdown = models.JSONField(_("why this score"), default=list)
    computed_at = models.DateTimeField(_("computed on"), default=timezone.now)

    class Meta:
        ordering = ["program", "registrant"]
        verbose_name = _("PMT score")
        constraints = [
            models.UniqueConstraint(
                fields=["program", "registrant"], name="pmt_score_unique_per_program"
            ),
        ]
        indexes = [models.Index(fields=["program", "score"], name="pmt_score_program_score_idx")]

    def __str__(self) -> str:
        return f"{self.registrant_id}: {self.score}"
