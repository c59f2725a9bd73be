"""The background path of large program operations: lock, enqueue, keyset chunks, finish.

A service that finds more rows than :func:`max_rows_inline` calls :func:`start` inside its own
transaction: the program or cycle is locked with upstream's reason, a
:class:`~pbms.models.JobProgress` is created and the procrastinate task is deferred through
Django's connection, so the job row commits with the lock, or neither exists.

The task (:mod:`g2p_programs.jobs`) calls :func:`run`, which:

- returns at once when the progress record is already done or failed (redelivery);
- restarts the figures (``done = 0``) and scans the rows concerned from the first id in keyset
  chunks: the upper bound of a chunk is ``max(id)`` of the next :func:`chunk_size` ids
  (``WHERE id > after ORDER BY id LIMIT n``, never ``OFFSET``); the chunk's rows are
  ``after < id <= upto``;
- runs each chunk in its own transaction that first takes
  ``pg_try_advisory_xact_lock(hashtextextended('<operation>:<target>', 0))`` (if another
  delivery of the same operation holds it, this one stops and leaves the work to it), writes
  the chunk with one set-based statement and advances the progress in the same transaction —
  the figures never run ahead of the data;
- finishes in one transaction: unlock, progress done with upstream's done message.

Chunks are idempotent (enrolment ``UPDATE``s filter by state, entitlements are ``INSERT … ON
CONFLICT DO NOTHING``), so a retried attempt re-scans from the start harmlessly: rows a killed
attempt committed are skipped by the statements themselves. The scanned sets are stable while
the object is locked (services refuse other writes with "Operation in progress: <reason>").
On the last attempt a failure unlocks the object and marks the progress failed.

Test hooks (environment, read by the job so a worker subprocess sees them too):
``G2P_JOB_CHUNK_SIZE`` overrides the chunk size; ``G2P_JOB_CHUNK_DELAY_MS`` sleeps that many
milliseconds after each committed chunk (to kill a worker mid-job in tests).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Model, QuerySet
from django.utils import timezone

from g2p_programs.choices import JOB_CHUNK_SIZE
from g2p_programs.results import Notification
from pbms.models import JobProgress, JobState
from pbms.services import job_progress_advance, job_progress_create, job_progress_finish

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Operation:
    """A kind of background operation: its progress ``key``, upstream's lock reason and done
    message."""

    key: str
    lock_reason: str
    done_message: str
    holder: str = "cycle"


ENROL = Operation(
    key="g2p.enrol",
    lock_reason="Eligibility check of beneficiaries",
    done_message="Eligibility check finished.",
)
PREPARE_ENTITLEMENTS = Operation(
    key="g2p.prepare_entitlements",
    lock_reason="Prepare entitlement for beneficiaries.",
    done_message="Entitlement Ready.",
)
# The operations below run through the generic ``operation_run`` task with a :class:`Plan`
# registered by the service that starts them (upstream's lock reasons and done messages).
DEDUPLICATE = Operation(
    key="g2p.deduplicate",
    lock_reason="Deduplication of beneficiaries",
    done_message="Deduplication finished.",
    holder="program",
)
COPY_BENEFICIARIES = Operation(
    key="g2p.cycle_copy_beneficiaries",
    lock_reason="Importing beneficiaries.",
    done_message="Beneficiary import finished.",
)
CHECK_ELIGIBILITY = Operation(
    key="g2p.cycle_check_eligibility",
    lock_reason="Eligibility check of beneficiaries",
    done_message="Eligibility check finished.",
)
SET_PENDING = Operation(
    key="g2p.entitlements_set_pending",
    lock_reason="Set entitlements to pending validation for cycle.",
    done_message="Entitlements Set to Pending Validation.",
)
APPROVE_ENTITLEMENTS = Operation(
    key="g2p.entitlements_approve",
    lock_reason="Validate and approve entitlements for cycle.",
    done_message="Entitlements Validated and Approved.",
)
CANCEL_ENTITLEMENTS = Operation(
    key="g2p.entitlements_cancel",
    lock_reason="Cancel entitlements for cycle.",
    done_message="Entitlements Cancelled.",
)
CANCEL_CYCLE = Operation(
    key="g2p.cycle_cancel",
    lock_reason="Cancel entitlements for cycle.",
    done_message="Cycle cancelled.",
)
PREPARE_PAYMENTS = Operation(
    key="g2p.payments_prepare",
    lock_reason="Prepare payments for entitlements in cycle.",
    done_message="Prepared payments.",
)
SEND_PAYMENTS = Operation(
    key="g2p.payments_send",
    lock_reason="Send payments for batches in cycle.",
    done_message="Send payments completed.",
)
IMPORT_ELIGIBLE = Operation(
    key="g2p.import_eligible",
    lock_reason="Importing beneficiaries",
    done_message="Import finished.",
    holder="program",
)

OPERATIONS: dict[str, Operation] = {
    op.key: op
    for op in (
        ENROL,
        PREPARE_ENTITLEMENTS,
        DEDUPLICATE,
        COPY_BENEFICIARIES,
        CHECK_ELIGIBILITY,
        SET_PENDING,
        APPROVE_ENTITLEMENTS,
        CANCEL_ENTITLEMENTS,
        CANCEL_CYCLE,
        PREPARE_PAYMENTS,
        SEND_PAYMENTS,
        IMPORT_ELIGIBLE,
    )
}


@dataclass
class Plan:
    """What one run of an operation does, built by the operation's planner for its holder.

    - ``rows()``: the rows concerned (a queryset, re-evaluated per chunk, keyset by ``pk``);
    - ``chunk((after, upto))``: writes the rows ``after < id <= upto`` set-based and
      idempotently; returning ``False`` stops the run after this chunk (e.g. the fund ran
      short), anything else goes on;
    - ``finish(progress)``: runs in the final transaction with the unlock; may return the
      outcome message recorded on the progress (default: the operation's done message);
    - ``single_chunk``: the work cannot be split by id (deduplication compares every row with
      every other), so it runs as ONE statement over all rows, in the job, under the lock;
    - ``counts_rows``: ``chunk`` returns how many rows it processed (an int), which advances
      the progress; ``rows()`` then only bounds the keyset windows and may be a cheap superset
      of the rows concerned (the statement itself skips the others).
    """

    rows: Callable[[], QuerySet[Any]]
    chunk: Callable[[tuple[int, int]], Any]
    finish: Callable[[JobProgress], str | None] | None = None
    single_chunk: bool = False
    counts_rows: bool = False


Planner = Callable[..., Plan]
_PLANNERS: dict[str, Planner] = {}


def planner(operation: Operation) -> Callable[[Planner], Planner]:
    """Register ``fn(holder, **params) -> Plan`` as the plan of ``operation`` (import time)."""

    def register(fn: Planner) -> Planner:
        if operation.key in _PLANNERS:
            raise RuntimeError(f"a planner for {operation.key} is already registered")
        _PLANNERS[operation.key] = fn
        return fn

    return register


def plan_for(operation: Operation, holder: Model, params: dict[str, Any]) -> Plan:
    """The plan of ``operation`` for ``holder``; the services modules register them."""
    from g2p_programs.services import (  # noqa: F401 - their planners register on import
        cycles,
        entitlements,
        payments,
        programs,
    )

    return _PLANNERS[operation.key](holder, **params)


class OperationBusy(Exception):
    """Another delivery of the same operation holds its advisory lock."""


def max_rows_inline() -> int:
    """Above this many rows a service enqueues a job (``settings.G2P_MAX_ROWS_INLINE``,
    upstream's 200)."""
    return int(settings.G2P_MAX_ROWS_INLINE)


def chunk_size() -> int:
    """Rows per chunk: env ``G2P_JOB_CHUNK_SIZE``, else ``settings.G2P_JOB_CHUNK_SIZE``, else
    :data:`~g2p_programs.choices.JOB_CHUNK_SIZE`."""
    value: Any = os.environ.get("G2P_JOB_CHUNK_SIZE") or getattr(
        settings, "G2P_JOB_CHUNK_SIZE", None
    )
    return max(1, int(value or JOB_CHUNK_SIZE))


def _chunk_delay() -> float:
    return int(os.environ.get("G2P_JOB_CHUNK_DELAY_MS") or 0) / 1000


def target_of(holder: Model) -> str:
    """``"program:<id>"`` / ``"cycle:<id>"``: the progress target of a locked object."""
    return f"{holder._meta.model_name}:{holder.pk}"


def start(
    *,
    operation: Operation,
    holder: Model,
    total: int,
    actor_id: int | None,
    task: Any,
    **task_kwargs: Any,
) -> JobProgress:
    """Lock ``holder`` (a program or cycle) for ``operation``, create its progress record and
    defer ``task(progress_id=…, **task_kwargs)``.

    Must run inside the caller's ``transaction.atomic()`` holding the row lock of ``holder``:
    the lock, the progress row and the procrastinate job commit together or not at all.
    Queries: 1 ``UPDATE`` (lock), 1 ``INSERT`` (progress), 1 defer, 1 ``UPDATE`` (job id).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("bulk.start must run inside the transaction that asks for the job")
    type(holder)._default_manager.filter(pk=holder.pk).update(
        locked=True, locked_reason=operation.lock_reason
    )
    setattr(holder, "locked", True)  # noqa: B010 - Program or Cycle
    setattr(holder, "locked_reason", operation.lock_reason)  # noqa: B010
    progress = job_progress_create(
        operation=operation.key, target=target_of(holder), total=total, created_by_id=actor_id
    )
    job_id = task.defer(progress_id=progress.pk, **task_kwargs)
    JobProgress.objects.filter(pk=progress.pk).update(procrastinate_job_id=job_id)
    progress.procrastinate_job_id = job_id
    return progress


def start_operation(
    *,
    operation: Operation,
    holder: Model,
    total: int,
    actor_id: int | None,
    params: dict[str, Any] | None = None,
) -> JobProgress:
    """:func:`start` for an operation with a registered :class:`Plan`: defers the generic
    ``operation_run`` task with ``params`` (JSON values) for the planner."""
    from g2p_programs.jobs import operation_run

    if operation.key not in OPERATIONS or operation.holder != holder._meta.model_name:
        raise ValueError(f"{operation.key} does not run on a {holder._meta.model_name}")
    return start(
        operation=operation,
        holder=holder,
        total=total,
        actor_id=actor_id,
        task=operation_run,
        operation_key=operation.key,
        holder_id=holder.pk,
        params=params or {},
    )


def queue_if_large(
    *,
    operation: Operation,
    holder: Model,
    total: int,
    actor: Any,
    title: str,
    message: str,
    kind: str = "warning",
    params: dict[str, Any] | None = None,
) -> Notification | None:
    """When ``total`` rows exceed :func:`max_rows_inline`, start ``operation`` on ``holder``
    (:func:`start_operation`) and return the sticky notification telling the officer it
    started (``data={"queued": total}``); else None and the caller works inline."""
    if total <= max_rows_inline():
        return None
    start_operation(
        operation=operation,
        holder=holder,
        total=total,
        actor_id=getattr(actor, "pk", None),
        params=params,
    )
    return Notification(
        title=title, message=message, type=kind, sticky=True, data={"queued": total}
    )


def _try_lock(key: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [key])
        return bool(cursor.fetchone()[0])


def _next_chunk(rows: QuerySet[Any], after: int, size: int) -> tuple[int | None, int]:
    """(largest id, count) of the next ``size`` rows after ``after``; (None, 0) when none left.

    Keyset, one query: ``SELECT max(id), count(id) FROM (SELECT id … WHERE id > after ORDER BY
    id LIMIT size) w`` — an index range scan of the window only, never ``OFFSET``. (Written as
    ``WHERE id IN (window)`` the planner hash-joined the window against a sequential scan of
    the whole table, once per chunk.)
    """
    window = rows.filter(pk__gt=after).order_by("pk").values("pk")[:size]
    agg = window.aggregate(upto=Max("pk"), n=Count("pk"))
    return (int(agg["upto"]) if agg["upto"] is not None else None), int(agg["n"])


def run(
    *,
    operation: Operation,
    progress_id: int,
    holder_model: type[Model],
    holder_id: int,
    rows: Callable[[], QuerySet[Any]],
    chunk: Callable[[tuple[int, int]], Any],
    finish: Callable[[JobProgress], str | None] | None = None,
    final_attempt: bool = True,
    single_chunk: bool = False,
    counts_rows: bool = False,
) -> bool:
    """Process ``rows()`` (the rows concerned, a queryset) in keyset chunks with ``chunk``.

    ``chunk((after, upto))`` writes the rows ``after < id <= upto`` set-based and idempotently;
    it runs in a transaction that also advances the progress by the number of rows in the
    range; when it returns ``False`` no further chunk runs. ``finish(progress)`` runs in the
    final transaction with the unlock and may return the outcome message (default: the
    operation's done message). With ``single_chunk`` the rows are one range (0, max id], for
    work that cannot be split. Returns False
    when there was nothing to do (already finished) or another delivery holds the lock.
    Failures propagate (procrastinate retries); on the last attempt the object is unlocked and
    the progress marked failed first.
    """
    progress = JobProgress.objects.filter(pk=progress_id).first()
    if progress is None or progress.state in (JobState.DONE, JobState.FAILED):
        return False
    key = f"{operation.key}:{progress.target}"
    try:
        with transaction.atomic():
            if not _try_lock(key):
                raise OperationBusy(key)
            # each attempt re-scans from the first id, so the figures restart with it
            JobProgress.objects.filter(pk=progress_id).update(
                state=JobState.RUNNING, done=0, finished_at=None
            )
            if progress.started_at is None:
                JobProgress.objects.filter(pk=progress_id).update(started_at=timezone.now())
        size = chunk_size()
        delay = _chunk_delay()
        after = 0
        while True:
            with transaction.atomic():
                if not _try_lock(key):
                    raise OperationBusy(key)
                if single_chunk:
                    agg = rows().aggregate(upto=Max("pk"), n=Count("pk"))
                    upto, in_range = agg["upto"], int(agg["n"])
                else:
                    upto, in_range = _next_chunk(rows(), after, size)
                if upto is None:
                    break
                go_on = chunk((after, int(upto)))
                if counts_rows:
                    in_range, go_on = int(go_on), True
                job_progress_advance(job_id=progress_id, done=in_range)
            after = int(upto)
            if go_on is False or single_chunk:
                break
            if delay:
                time.sleep(delay)
        with transaction.atomic():
            if not _try_lock(key):
                raise OperationBusy(key)
            progress.refresh_from_db()
            message = finish(progress) if finish is not None else None
            holder_model._default_manager.filter(pk=holder_id).update(
                locked=False, locked_reason=""
            )
            job_progress_finish(job_id=progress_id, message=message or operation.done_message)
        return True
    except OperationBusy:
        logger.info("%s is running in another delivery; this one leaves it the work", key)
        return False
    except Exception as exc:
        if final_attempt:
            with transaction.atomic():
                holder_model._default_manager.filter(pk=holder_id).update(
                    locked=False, locked_reason=""
                )
                job_progress_finish(
                    job_id=progress_id, failed=True, message=f"{type(exc).__name__}: {exc}"
                )
        raise
