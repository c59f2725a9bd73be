"""Job progress records: the figures an officer sees while a background operation runs."""

from __future__ import annotations

import pytest

from pbms import services
from pbms.models import JobProgress, JobState

pytestmark = pytest.mark.django_db


def test_progress_moves_from_queued_to_done() -> None:
    job = services.job_progress_create(
        operation="registry.import", target="registry.import:1", total=0
    )
    assert (job.state, job.done, job.total) == (JobState.QUEUED, 0, 0)

    services.job_progress_start(job_id=job.pk, total=1000)
    services.job_progress_advance(job_id=job.pk, done=400)
    services.job_progress_advance(job_id=job.pk, done=350, errors=2)
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.error_count, job.percent) == (
        JobState.RUNNING,
        750,
        1000,
        2,
        75,
    )
    assert job.started_at is not None and job.finished_at is None

    services.job_progress_finish(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.done, job.percent) == (JobState.DONE, 1000, 100)
    assert job.finished_at is not None


def test_progress_never_runs_past_the_total_on_redelivery() -> None:
    job = services.job_progress_create(operation="op", total=10)
    services.job_progress_start(job_id=job.pk)
    services.job_progress_advance(job_id=job.pk, done=8)
    # A retried job reports its chunk again: the figure is capped, not 16/10.
    services.job_progress_advance(job_id=job.pk, done=8)
    assert JobProgress.objects.get(pk=job.pk).done == 10


def test_failed_job_keeps_its_figures_and_message() -> None:
    job = services.job_progress_create(operation="op", total=10)
    services.job_progress_start(job_id=job.pk)
    services.job_progress_advance(job_id=job.pk, done=3)
    services.job_progress_finish(job_id=job.pk, failed=True, message="file unreadable")
    job.refresh_from_db()
    assert (job.state, job.done, job.message) == (JobState.FAILED, 3, "file unreadable")
