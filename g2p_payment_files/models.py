"""Payment file templates, the files written per payment batch, and bank reconciliation.

Files are stored in the database (``bytea``) rather than on a file system so that a file row
and the state change that produced it commit together or not at all (a rolled-back send leaves
no orphan file behind); one file per (batch, configuration) is a unique constraint, so sending
again never writes a second file.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from g2p_payment_files.choices import FileFormat
from g2p_programs.choices import PaymentStatus
from g2p_programs.models import Payment, PaymentBatch


class PaymentFileConfig(models.Model):
    """A payment file template (upstream ``g2p.payment.file.config``).

    ``columns`` is an ordered list of ``{"header": …, "expression": …}`` in the language of
    :mod:`g2p_payment_files.expressions`. With ``qr_expression`` set, one more column
    (``qr_header``) holds each payment's QR payload; in XLSX the cell also shows the QR code as
    a PNG image.
    """

    name = models.CharField(_("name"), max_length=255, unique=True)
    file_format = models.CharField(
        _("format"), max_length=8, choices=FileFormat.choices, default=FileFormat.CSV
    )
    columns = models.JSONField(_("columns"), default=list, blank=True)
    qr_header = models.CharField(_("QR code column header"), max_length=255, default="QR Code")
    qr_expression = models.CharField(
        _("QR code payload"), max_length=1000, blank=True, help_text=_("Empty: no QR code.")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("payment file configuration")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from g2p_payment_files.expressions import (
            ExpressionError,
            compile_columns,
            compile_expression,
        )

        errors: dict[str, list[str]] = {}
        try:
            compile_columns(self.columns)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if self.qr_expression:
            try:
                compile_expression(self.qr_expression)
            except ExpressionError as exc:
                errors["qr_expression"] = [
                    _('QR column "%(header)s": %(problem)s.')
                    % {"header": self.qr_header, "problem": exc}
                ]
        if errors:
            raise ValidationError(errors)


class PaymentFile(models.Model):
    """The file of one payment batch written with one configuration."""

    # DO_NOTHING keeps the core's batch and payment deletions at their query counts; the
    # foreign keys still refuse deleting a sent batch or a reconciled payment, which the
    # delete rules forbid anyway (only unstarted batches and issued payments are deleted).
    batch = models.ForeignKey(PaymentBatch, on_delete=models.DO_NOTHING, related_name="files")
    config = models.ForeignKey(PaymentFileConfig, on_delete=models.PROTECT, related_name="files")
    filename = models.CharField(_("file name"), max_length=255)
    content = models.BinaryField(_("content"))
    checksum = models.CharField(_("SHA-256"), max_length=64)
    row_count = models.PositiveIntegerField(_("rows"))
    created = models.DateTimeField(_("created on"), default=timezone.now)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("payment file")
        permissions = [("download_paymentfile", _("Can download payment files"))]
        constraints = [
            models.UniqueConstraint(fields=["batch", "config"], name="paymentfile_one_per_config")
        ]

    def __str__(self) -> str:
        return self.filename


class ReconciliationImport(models.Model):
    """A bank result file imported once (its SHA-256 is unique)."""

    filename = models.CharField(_("file name"), max_length=255)
    checksum = models.CharField(_("SHA-256"), max_length=64, unique=True)
    row_count = models.PositiveIntegerField(_("rows"))
    reconciled = models.PositiveIntegerField(_("payments reconciled"))
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(_("imported on"), default=timezone.now)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("reconciliation import")
        permissions = [("reconcile_payments", _("Can reconcile payments"))]

    def __str__(self) -> str:
        return self.filename


class PaymentReconciliation(models.Model):
    """The bank's answer for one payment: status, amount, date and failure reason."""

    payment = models.OneToOneField(
        Payment, on_delete=models.DO_NOTHING, related_name="reconciliation"
    )
    source = models.ForeignKey(
        ReconciliationImport, on_delete=models.PROTECT, related_name="payments"
    )
    status = models.CharField(_("status"), max_length=16, choices=PaymentStatus.choices)
    amount_paid = models.DecimalField(_("amount paid"), max_digits=16, decimal_places=2)
    paid_on = models.DateField(_("date"), null=True, blank=True)
    reason = models.TextField(_("failure reason"), blank=True)

    class Meta:
        verbose_name = _("payment reconciliation")

    def __str__(self) -> str:
        return f"{self.payment_id}: {self.status}"
