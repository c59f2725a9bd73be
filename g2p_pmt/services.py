"""Writes of the proxy means test: configuration and keeping the scores current.

Scores are recomputed by these services, never by ``save()`` or signals:

- :func:`pmt_config_save` (and the back office, through :func:`pmt_config_changed`) recomputes
  the whole program when its configuration changes;
- :func:`pmt_scores_refresh` is what code that changes registrants calls with the ids it
  changed (imports, registry services, APIs): it recomputes those registrants and the groups
  they belong to in every program with PMT enabled.

Either way, up to ``settings.G2P_MAX_ROWS_INLINE`` registrants are scored inline in one
statement per program; above it, the ``pmt_scores_recompute_run`` job is enqueued in the same
transaction and rescans the whole registry of the program in keyset chunks. Query counts never
depend on the number of registrants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from g2p_pmt import queries, selectors
from g2p_pmt.models import PmtConfig, PmtIndicator, PmtScore
from g2p_programs import bulk
from g2p_programs.choices import TargetType
from g2p_programs.models import Program
from g2p_registry_base.models import Registrant
from g2p_registry_base.services import Actor, require_perm
from pbms.services import job_progress_create

OPERATION = "g2p_pmt.recompute"


def _is_group(program: Program) -> bool:
    return program.target_type == TargetType.GROUP


def pmt_config_save(
    *,
    program: Program,
    enabled: bool,
    indicators: Sequence[dict[str, Any]],
    actor: Actor,
) -> dict[str, int]:
    """Create or replace the program's PMT configuration and recompute its scores.

    ``indicators`` are dicts of :class:`~g2p_pmt.models.PmtIndicator` fields (``name``,
    ``weight``, ``source``, ``key``, ``value_type``, ``choices``, ``aggregate``, ``sequence``);
    a bad one raises ``ValidationError`` naming it and nothing is written. Returns what
    :func:`pmt_config_changed` returns.
    """
    require_perm(actor, "g2p_pmt.change_pmtconfig")
    with transaction.atomic():
        config, _created = PmtConfig.objects.select_for_update().get_or_create(program=program)
        if config.enabled != enabled:
            config.enabled = enabled
            config.save()
        config.indicators.all().delete()
        for i, data in enumerate(indicators):
            row = PmtIndicator(config=config, sequence=(i + 1) * 10, **data)
            try:
                row.save()
            except ValidationError as exc:
                raise ValidationError(
                    {f"indicators[{i}]": [f"{data.get('name', '')}: {m}" for m in exc.messages]}
                ) from exc
        return pmt_config_changed(config=config, actor=actor)


def pmt_config_changed(*, config: PmtConfig, actor: Actor) -> dict[str, int]:
    """Bring the program's scores in line with its (saved) configuration.

    Disabled: the program's scores are deleted (one ``DELETE``). Enabled: one upsert of every
    registrant of the program's target kind when they are at most the inline threshold, else
    the recompute job is enqueued in this transaction. Returns ``{"changed": n}``,
    ``{"deleted": n}`` or ``{"queued": n}``.
    """
    with transaction.atomic():
        config = PmtConfig.objects.select_related("program").get(pk=config.pk)
        program = config.program
        if not config.enabled:
            deleted, _rows = PmtScore.objects.filter(program=program).delete()
            return {"deleted": deleted}
        total = Registrant.objects.filter(is_group=_is_group(program), is_registrant=True).count()
        if total > bulk.max_rows_inline():
            pmt_scores_recompute_enqueue(program=program, total=total, actor=actor)
            return {"queued": total}
        changed = queries.upsert_pmt_scores(
            program_id=program.pk,
            is_group=_is_group(program),
            indicators=selectors.pmt_indicators(config=config),
        )
        return {"changed": changed}


def pmt_scores_recompute_enqueue(*, program: Program, total: int, actor: Actor) -> int:
    """Enqueue the whole-registry recompute of ``program`` in the caller's transaction (the
    job row commits with the change that asked for it); returns the progress id."""
    from g2p_pmt.jobs import pmt_scores_recompute_run

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("enqueue the recompute inside the transaction that changed the data")
    progress = job_progress_create(
        operation=OPERATION,
        target=f"program:{program.pk}",
        total=total,
        created_by_id=getattr(actor, "pk", None),
    )
    job_id = pmt_scores_recompute_run.defer(progress_id=progress.pk, program_id=program.pk)
    type(progress).objects.filter(pk=progress.pk).update(procrastinate_job_id=job_id)
    return int(progress.pk)


def pmt_scores_refresh(*, registrant_ids: Sequence[int], actor: Actor = None) -> dict[str, int]:
    """Recompute the scores of registrants that changed, in every program with PMT enabled.

    Covers the registrants themselves and the groups they are (or were) members of, so a
    member's change or a membership change reaches the group's aggregates — pass the member's
    id after adding, ending or removing a membership. Queries: two for the configurations, then
    one upsert per enabled program (or, above the inline threshold, one job per program that
    rescans its whole registry). Returns ``{"changed": n, "queued": programs}``.
    """
    ids = sorted({int(i) for i in registrant_ids})
    if not ids:
        return {"changed": 0, "queued": 0}
    changed = queued = 0
    with transaction.atomic():
        for config in selectors.pmt_configs_enabled():
            if len(ids) > bulk.max_rows_inline():
                pmt_scores_recompute_enqueue(program=config.program, total=len(ids), actor=actor)
                queued += 1
                continue
            changed += queries.upsert_pmt_scores(
                program_id=config.program_id,
                is_group=_is_group(config.program),
                indicators=selectors.pmt_indicators(config=config),
                registrant_ids=ids,
            )
    return {"changed": changed, "queued": queued}
