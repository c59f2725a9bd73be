"""The ``pmt`` eligibility manager: eligible by PMT score against a threshold.

Chained like every eligibility manager (it narrows what the previous one returned). It reads
the stored scores of :class:`~g2p_pmt.models.PmtScore`, kept current by
:mod:`g2p_pmt.services`. A program whose PMT is not enabled has no indicators, so every
registrant's score is 0 (the empty sum) and is compared as such; in a program with PMT enabled
a registrant without a stored score is never eligible (an unscored registrant is not waved
through).
"""

from __future__ import annotations

from decimal import Decimal

import pydantic
from django.db.models import Exists, OuterRef, Q

from g2p_pmt.choices import Direction
from g2p_programs.program_managers.eligibility import EligibilityManager
from g2p_programs.registry import ManagerConfig, registry


class PmtEligibilityConfig(ManagerConfig):
    threshold: Decimal = pydantic.Field(
        default=Decimal("0"), description="Score compared with each registrant's PMT score."
    )
    direction: Direction = pydantic.Field(
        default=Direction.AT_OR_BELOW,
        description="at_or_below: score <= threshold is eligible; above: score > threshold.",
    )


@registry.register
class PmtEligibilityManager(EligibilityManager):
    """Registrants whose PMT score in the program is at or below (or above) the threshold."""

    key = "pmt"
    label = "Proxy Means Test Eligibility"
    Config = PmtEligibilityConfig
    config: PmtEligibilityConfig

    def _passes(self, score: Decimal) -> bool:
        if self.config.direction == Direction.ABOVE:
            return score > self.config.threshold
        return score <= self.config.threshold

    def registrant_filter(self) -> Q:
        """Lazy: ``EXISTS`` over ``pmt_score_unique_per_program`` (no query until evaluated)."""
        from g2p_pmt.models import PmtConfig, PmtScore

        scores = PmtScore.objects.filter(program_id=self.program.pk, registrant=OuterRef("pk"))
        if self.config.direction == Direction.ABOVE:
            scores = scores.filter(score__gt=self.config.threshold)
        else:
            scores = scores.filter(score__lte=self.config.threshold)
        passing = Q(Exists(scores))
        if self._passes(Decimal("0")):
            enabled = PmtConfig.objects.filter(program_id=self.program.pk, enabled=True)
            passing |= ~Q(Exists(enabled))
        return passing
