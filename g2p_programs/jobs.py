"""Background jobs of programs (procrastinate; discovered through
``PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "jobs"``).

Jobs are thin: the keyset chunking, advisory lock, progress and unlock are in
:func:`g2p_programs.bulk.run`; the row work is the managers' set-based statements restricted
to a chunk's id range. Both jobs are idempotent under redelivery and retried after a failure
(a killed worker's job is put back by :func:`retry_stalled_jobs`).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from procrastinate import JobContext, RetryStrategy
from procrastinate.contrib.django import app

QUEUE = "programs"
# A failed attempt (database restarted, worker killed) is retried after 5 s, 35 s, 65 s, 95 s.
PROGRAM_JOB_RETRY = RetryStrategy(max_attempts=4, wait=5, linear_wait=30)


def _final(context: JobContext) -> bool:
    attempts = context.job.attempts if context.job else 0
    max_attempts = PROGRAM_JOB_RETRY.max_attempts
    return max_attempts is None or attempts >= max_attempts


@app.task(
    name="g2p_programs.program_enroll_run",
    queue=QUEUE,
    retry=PROGRAM_JOB_RETRY,
    pass_context=True,
)
def program_enroll_run(
    context: JobContext, progress_id: int, program_id: int, states: list[str] | None = None
) -> None:
    """Enrol eligible memberships of a program (``states`` None = all), chunk by chunk.

    Every chunk writes the same enrolment timestamp (the progress record's creation time), so
    the memberships enrolled by this operation are known at the end and the notification
    managers are told about them once, in the final transaction.
    """
    program_enroll_execute(
        progress_id=progress_id, program_id=program_id, states=states, final_attempt=_final(context)
    )


def program_enroll_execute(
    *, progress_id: int, program_id: int, states: list[str] | None, final_attempt: bool = True
) -> bool:
    from g2p_programs import bulk
    from g2p_programs.choices import MembershipState
    from g2p_programs.models import Program, ProgramMembership
    from g2p_programs.program_managers.notification import notify
    from g2p_programs.services.programs import _program_manager
    from pbms.models import JobProgress

    program = Program.objects.get(pk=program_id)
    since = JobProgress.objects.values_list("created_at", flat=True).get(pk=progress_id)

    def rows() -> Any:
        qs = ProgramMembership.objects.filter(program_id=program_id)
        return qs.filter(state__in=states) if states else qs

    def chunk(id_range: tuple[int, int]) -> None:
        _program_manager(program).enroll_eligible(states=states, id_range=id_range, since=since)

    def finish(progress: Any) -> None:
        newly = ProgramMembership.objects.filter(
            program_id=program_id, state=MembershipState.ENROLLED, enrollment_date=since
        )
        if newly.exists():
            notify(program, "enrolled", membership_ids=newly, actor=progress.created_by)

    return bulk.run(
        operation=bulk.ENROL,
        progress_id=progress_id,
        holder_model=Program,
        holder_id=program_id,
        rows=rows,
        chunk=chunk,
        finish=finish,
        final_attempt=final_attempt,
    )


@app.task(
    name="g2p_programs.entitlements_prepare_run",
    queue=QUEUE,
    retry=PROGRAM_JOB_RETRY,
    pass_context=True,
)
def entitlements_prepare_run(context: JobContext, progress_id: int, cycle_id: int) -> None:
    """Create the draft entitlements of a cycle's enrolled members, chunk by chunk
    (``INSERT … ON CONFLICT DO NOTHING`` per chunk)."""
    entitlements_prepare_execute(
        progress_id=progress_id, cycle_id=cycle_id, final_attempt=_final(context)
    )


def entitlements_prepare_execute(
    *, progress_id: int, cycle_id: int, final_attempt: bool = True
) -> bool:
    from g2p_programs import bulk
    from g2p_programs.choices import CycleMembershipState
    from g2p_programs.models import Cycle, CycleMembership, Entitlement
    from g2p_programs.services.entitlements import entitlement_manager

    cycle = Cycle.objects.select_related("program").get(pk=cycle_id)

    def rows() -> Any:
        return CycleMembership.objects.filter(
            cycle_id=cycle_id, state=CycleMembershipState.ENROLLED
        )

    def chunk(id_range: tuple[int, int]) -> None:
        entitlement_manager(program=cycle.program).prepare_entitlements(cycle, id_range=id_range)

    def finish(progress: Any) -> None:
        # the requester is the preparer when this operation created entitlements (segregation
        # of duties), as the inline path records it
        created = Entitlement.objects.filter(
            cycle_id=cycle_id, create_date__gte=progress.created_at
        )
        if created.exists():
            Cycle.objects.filter(pk=cycle_id).update(
                entitlements_prepared_by_id=progress.created_by_id,
                write_date=timezone.now(),
            )

    return bulk.run(
        operation=bulk.PREPARE_ENTITLEMENTS,
        progress_id=progress_id,
        holder_model=Cycle,
        holder_id=cycle_id,
        rows=rows,
        chunk=chunk,
        finish=finish,
        final_attempt=final_attempt,
    )


@app.task(
    name="g2p_programs.operation_run",
    queue=QUEUE,
    retry=PROGRAM_JOB_RETRY,
    pass_context=True,
)
def operation_run(
    context: JobContext,
    progress_id: int,
    operation_key: str,
    holder_id: int,
    params: dict[str, Any] | None = None,
) -> None:
    """Any operation of :data:`g2p_programs.bulk.OPERATIONS` with a registered plan (cycle
    copy / eligibility / entitlement and payment steps, deduplication), chunk by chunk."""
    operation_execute(
        progress_id=progress_id,
        operation_key=operation_key,
        holder_id=holder_id,
        params=params,
        final_attempt=_final(context),
    )


def operation_execute(
    *,
    progress_id: int,
    operation_key: str,
    holder_id: int,
    params: dict[str, Any] | None = None,
    final_attempt: bool = True,
) -> bool:
    from g2p_programs import bulk
    from g2p_programs.models import Cycle, Program

    op = bulk.OPERATIONS[operation_key]
    holder_model: Any = {"cycle": Cycle, "program": Program}[op.holder]
    qs = holder_model.objects.all()
    if holder_model is Cycle:
        qs = qs.select_related("program")
    holder = qs.get(pk=holder_id)
    plan = bulk.plan_for(op, holder, dict(params or {}))
    return bulk.run(
        operation=op,
        progress_id=progress_id,
        holder_model=holder_model,
        holder_id=holder_id,
        rows=plan.rows,
        chunk=plan.chunk,
        finish=plan.finish,
        final_attempt=final_attempt,
        single_chunk=plan.single_chunk,
        counts_rows=plan.counts_rows,
    )


def retry_stalled_jobs(*, seconds_since_heartbeat: float = 30) -> list[int]:
    """Put back to ``todo`` the program jobs still ``doing`` whose worker has sent no heartbeat
    for ``seconds_since_heartbeat`` (killed, machine lost) — procrastinate's stalled-job query.
    Run it periodically (cron) or by hand; the retried jobs are idempotent. Returns the
    procrastinate ids retried. Queries: 1 + 1 per stalled job."""
    from procrastinate import sql

    rows = app.connector.get_sync_connector().execute_query_all(
        query=sql.queries["select_stalled_jobs_by_heartbeat"],
        queue=QUEUE,
        task_name=None,
        seconds_since_heartbeat=seconds_since_heartbeat,
    )
    now = timezone.now()
    ids = [int(row["id"]) for row in rows]
    for job_id in ids:
        app.job_manager.retry_job_by_id(job_id=job_id, retry_at=now)
    return ids


MAINTENANCE_QUEUE = "maintenance"


@app.periodic(cron="* * * * *", periodic_id="g2p_programs.retry_stalled_jobs")
@app.task(
    name="g2p_programs.retry_stalled_jobs",
    queue=MAINTENANCE_QUEUE,
    queueing_lock="g2p_programs.retry_stalled_jobs",
)
def retry_stalled_jobs_periodic(timestamp: int) -> None:
    """Every minute: put back the program jobs of workers that stopped sending heartbeats
    (procrastinate's workers send one every 10 s; 60 s of silence means the worker is gone)."""
    retry_stalled_jobs(seconds_since_heartbeat=60)


@app.periodic(cron="10 0 * * *", periodic_id="g2p_programs.entitlements_expire")
@app.task(
    name="g2p_programs.entitlements_expire",
    queue=MAINTENANCE_QUEUE,
    queueing_lock="g2p_programs.entitlements_expire",
)
def entitlements_expire_periodic(timestamp: int) -> None:
    """Daily at 00:10: approved entitlements past their validity become expired (upstream's
    daily garbage collection)."""
    from g2p_programs.services.entitlements import entitlements_expire

    entitlements_expire(today=timezone.localdate(), actor=None)
