"""Job progress records: what background operations report to the officer who asked for them."""

from __future__ import annotations

from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from pbms.models import JobProgress, JobState


def job_progress_create(
    *, operation: str, target: str = "", total: int = 0, created_by_id: int | None = None
) -> JobProgress:
    """A queued progress record; create it in the transaction that enqueues the job."""
    return JobProgress.objects.create(
        operation=operation, target=target, total=total, created_by_id=created_by_id
    )


def job_progress_start(*, job_id: int, total: int | None = None) -> None:
    """Mark the job running (again, after a retry) and optionally set the total. One UPDATE."""
    fields: dict[str, object] = {
        "state": JobState.RUNNING,
        "started_at": timezone.now(),
        "finished_at": None,
    }
    if total is not None:
        fields["total"] = total
    JobProgress.objects.filter(pk=job_id).update(**fields)


def job_progress_advance(*, job_id: int, done: int = 0, errors: int = 0) -> None:
    """Add ``done`` rows and ``errors``; call it in the transaction that wrote those rows."""
    JobProgress.objects.filter(pk=job_id).update(
        done=Least(F("done") + done, F("total")) if done else F("done"),
        error_count=F("error_count") + errors,
    )


def job_progress_finish(*, job_id: int, failed: bool = False, message: str = "") -> None:
    state = JobState.FAILED if failed else JobState.DONE
    updates: dict[str, object] = {
        "state": state,
        "finished_at": timezone.now(),
        "message": message[:5000],
    }
    if not failed:
        updates["done"] = F("total")
    JobProgress.objects.filter(pk=job_id).update(**updates)
