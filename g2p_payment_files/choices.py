"""Formats, reconciliation columns and limits of payment files."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class FileFormat(models.TextChoices):
    CSV = "csv", _("CSV")
    XLSX = "xlsx", _("XLSX")


# Columns of a bank result file (first row = headers, any order, case-insensitive).
RESULT_REFERENCE = "reference"
RESULT_STATUS = "status"
RESULT_AMOUNT = "amount_paid"
RESULT_DATE = "date"
RESULT_REASON = "reason"
RESULT_COLUMNS = (RESULT_REFERENCE, RESULT_STATUS, RESULT_AMOUNT, RESULT_DATE, RESULT_REASON)

# Rows fetched per round trip of the server-side cursor that streams a batch into its file.
FILE_FETCH_SIZE = 2000
# Pixels per QR module in an XLSX file's embedded PNG.
QR_SCALE = 2
