"""States, kinds and thresholds of programs, with upstream's values (``g2p_programs``)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TargetType(models.TextChoices):
    GROUP = "group", _("Group")
    INDIVIDUAL = "individual", _("Individual")


class ProgramState(models.TextChoices):
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")


class MembershipState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ENROLLED = "enrolled", _("Enrolled")
    PAUSED = "paused", _("Paused")
    EXITED = "exited", _("Exited")
    NOT_ELIGIBLE = "not_eligible", _("Not Eligible")
    DUPLICATED = "duplicated", _("Duplicated")


class CycleState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    TO_APPROVE = "to_approve", _("To Approve")
    APPROVED = "approved", _("Approved")
    DISTRIBUTED = "distributed", _("Distributed")
    ENDED = "ended", _("Ended")
    CANCELLED = "cancelled", _("Canceled")


class CycleMembershipState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ENROLLED = "enrolled", _("Enrolled")
    PAUSED = "paused", _("Paused")
    EXITED = "exited", _("Exited")
    NOT_ELIGIBLE = "not_eligible", _("Not Eligible")


class EntitlementState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_VALIDATION = "pending_validation", _("Pending Approval")
    APPROVED = "approved", _("Approved")
    TRANS2FSP = "trans2FSP", _("Transferred to FSP")
    RDPD2BEN = "rdpd2ben", _("Redeemed/Paid to Beneficiary")
    REJECTED1 = "rejected1", _("Rejected: Beneficiary didn't want the entitlement")
    REJECTED2 = "rejected2", _("Rejected: Beneficiary account does not exist")
    REJECTED3 = "rejected3", _("Rejected: Other reason")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


class PaymentState(models.TextChoices):
    ISSUED = "issued", _("Issued")
    SENT = "sent", _("Sent")
    RECONCILED = "reconciled", _("Reconciled")


class PaymentStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")


class FundState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    POSTED = "posted", _("Posted")
    CANCELLED = "cancelled", _("Cancelled")


class DuplicateState(models.TextChoices):
    DUPLICATE = "duplicate", _("Duplicate")
    NOT_DUPLICATE = "not_duplicate", _("Not Duplicate")


class ManagerKind(models.TextChoices):
    """The seven kinds of pluggable managers a program is configured with."""

    PROGRAM = "program", _("Program manager")
    ELIGIBILITY = "eligibility", _("Eligibility manager")
    DEDUPLICATION = "deduplication", _("Deduplication manager")
    CYCLE = "cycle", _("Cycle manager")
    ENTITLEMENT = "entitlement", _("Entitlement manager")
    PAYMENT = "payment", _("Payment manager")
    NOTIFICATION = "notification", _("Notification manager")


# Kinds of which a program has at most one active manager (a partial unique index enforces it).
SINGLE_MANAGER_KINDS = (
    ManagerKind.PROGRAM,
    ManagerKind.CYCLE,
    ManagerKind.ENTITLEMENT,
    ManagerKind.PAYMENT,
)

# Work over more rows than this runs as background jobs (upstream MIN_ROW_JOB_QUEUE).
MAX_ROWS_INLINE = 200
# Keyset chunk of a background job over beneficiaries.
JOB_CHUNK_SIZE = 10_000

FUND_DRAFT_NAME = "Draft"
