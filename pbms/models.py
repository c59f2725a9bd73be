"""Cross-cutting records of the platform: background job progress."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class JobProgress(models.Model):
    """What an officer sees of a long operation: rows done out of total, errors, outcome.

    One row per operation request. Jobs update it with :func:`pbms.services.job_progress_advance`
    in the same transaction as the rows they write, so the figures never run ahead of the data.
    ``target`` names the object the operation works on (``"registry.import:12"``,
    ``"program:3"``) so a form can show "locked while running" for it.
    """

    operation = models.CharField(_("operation"), max_length=64)
    target = models.CharField(_("target"), max_length=128, blank=True, db_index=True)
    state = models.CharField(
        _("state"), max_length=16, choices=JobState.choices, default=JobState.QUEUED
    )
    total = models.PositiveBigIntegerField(_("total rows"), default=0)
    done = models.PositiveBigIntegerField(_("rows done"), default=0)
    error_count = models.PositiveBigIntegerField(_("errors"), default=0)
    message = models.TextField(_("message"), blank=True)
    procrastinate_job_id = models.BigIntegerField(_("job id"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("job progress")
        verbose_name_plural = _("job progress")
        constraints = [
            models.CheckConstraint(
                condition=Q(done__lte=F("total")) | Q(total=0), name="jobprogress_done_le_total"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.target} ({self.state})"

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.state == JobState.DONE else 0
        return int(self.done * 100 / self.total)
