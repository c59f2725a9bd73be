"""Background job of the proxy means test: recompute a program's scores over the whole registry.

Discovered by procrastinate (``jobs`` modules). The job scans the registrants of the program's
target kind in keyset chunks (``WHERE id > after ORDER BY id LIMIT n``, never ``OFFSET``); each
chunk is one upsert in its own transaction holding the advisory lock
``g2p_pmt.recompute:program:<id>`` and advancing the progress record with it. The upsert is
idempotent, so a redelivered or retried job simply runs again. When another recompute of the
same program holds the lock, this one raises :class:`RecomputeBusy` and procrastinate retries it
later, so a change made while the other one was already past its rows is still picked up.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Count, Max
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

QUEUE = "programs"
RETRY = RetryStrategy(max_attempts=4, wait=5, linear_wait=30)


@app.task(name="g2p_pmt.pmt_scores_recompute_run", queue=QUEUE, retry=RETRY)
def pmt_scores_recompute_run(progress_id: int, program_id: int) -> None:
    pmt_scores_recompute_execute(progress_id=progress_id, program_id=program_id)


class RecomputeBusy(RuntimeError):
    """Another recompute of the same program is running; retry later."""


def _try_lock(key: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [key])
        return bool(cursor.fetchone()[0])


def pmt_scores_recompute_execute(*, progress_id: int, program_id: int) -> int:
    """Run the recompute; returns the number of scores changed (0 when the progress record is
    already finished or the configuration is gone or disabled). Raises :class:`RecomputeBusy`
    when another recompute of the program holds the lock (the scores written so far stay)."""
    from g2p_pmt import queries, selectors
    from g2p_pmt.models import PmtConfig
    from g2p_programs.bulk import chunk_size
    from g2p_programs.choices import TargetType
    from g2p_registry_base.models import Registrant
    from pbms.models import JobProgress, JobState
    from pbms.services import job_progress_advance, job_progress_finish, job_progress_start

    progress = JobProgress.objects.filter(pk=progress_id).first()
    if progress is None or progress.state in (JobState.DONE, JobState.FAILED):
        return 0
    config = (
        PmtConfig.objects.filter(program_id=program_id, enabled=True)
        .select_related("program")
        .prefetch_related("indicators")
        .first()
    )
    key = f"g2p_pmt.recompute:program:{program_id}"
    if config is None:
        job_progress_finish(job_id=progress_id, message="PMT is not enabled for the program.")
        return 0
    is_group = config.program.target_type == TargetType.GROUP
    indicators = selectors.pmt_indicators(config=config)
    rows = Registrant.objects.filter(is_group=is_group, is_registrant=True)
    job_progress_start(job_id=progress_id, total=rows.count())
    JobProgress.objects.filter(pk=progress_id).update(done=0)
    size, after, changed = chunk_size(), 0, 0
    while True:
        with transaction.atomic():
            if not _try_lock(key):
                raise RecomputeBusy(key)
            window = rows.filter(pk__gt=after).order_by("pk").values("pk")[:size]
            agg = Registrant.objects.filter(pk__in=window).aggregate(upto=Max("pk"), n=Count("pk"))
            if agg["upto"] is None:
                break
            changed += queries.upsert_pmt_scores(
                program_id=program_id,
                is_group=is_group,
                indicators=indicators,
                id_range=(after, int(agg["upto"])),
            )
            job_progress_advance(job_id=progress_id, done=int(agg["n"]))
        after = int(agg["upto"])
    job_progress_finish(job_id=progress_id, message="PMT scores computed.")
    return changed
