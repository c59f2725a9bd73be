"""Programs and their lifecycle records (upstream ``g2p_programs``).

Program -> program memberships (beneficiaries) -> cycles -> cycle memberships -> entitlements ->
payments in batches, funded by program fund entries; duplicates found by deduplication managers;
managers attached through :class:`ManagerAssignment` rows.

Uniqueness that makes every bulk step idempotent lives in the database: one membership per
registrant and program, one cycle membership per registrant and cycle, one entitlement per
registrant and cycle, one live (not failed) payment per entitlement, one active program / cycle /
entitlement / payment manager per program. Money is ``Decimal`` in ``NUMERIC`` columns.
"""

from __future__ import annotations

import uuid
from typing import Any

import pghistory
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from g2p_programs.choices import (
    FUND_DRAFT_NAME,
    SINGLE_MANAGER_KINDS,
    CycleMembershipState,
    CycleState,
    DuplicateState,
    EntitlementState,
    FundState,
    ManagerKind,
    MembershipState,
    PaymentState,
    PaymentStatus,
    ProgramState,
    TargetType,
)
from g2p_registry_base.models import (
    Company,
    Registrant,
    ValidatedModel,
    audit_trackers,
    default_company_id,
)

MONEY = {"max_digits": 16, "decimal_places": 2}


def entitlement_code() -> str:
    """A 21-character random code, as upstream's (a slice of a UUID4)."""
    return str(uuid.uuid4())[7:28]


def uuid_name() -> str:
    return str(uuid.uuid4())


@pghistory.track(*audit_trackers())
class Program(ValidatedModel):
    """A social-protection program (upstream ``g2p.program``).

    ``locked`` / ``locked_reason`` are set while background jobs work on the program and shown
    in the back office. ``separation_of_duties`` (on by default, beyond upstream): the user who
    prepared a cycle's entitlements cannot approve them.
    """

    name = models.CharField(_("name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        default=default_company_id,
        related_name="+",
        verbose_name=_("company"),
    )
    target_type = models.CharField(
        _("target type"), max_length=16, choices=TargetType.choices, default=TargetType.GROUP
    )
    state = models.CharField(
        _("state"), max_length=16, choices=ProgramState.choices, default=ProgramState.ACTIVE
    )
    date_ended = models.DateField(_("date ended"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    active = models.BooleanField(_("active"), default=True)
    locked = models.BooleanField(_("locked"), default=False)
    locked_reason = models.CharField(_("locked reason"), max_length=255, blank=True)
    separation_of_duties = models.BooleanField(
        _("separation of duties"),
        default=True,
        help_text=_("The user who prepared a cycle's entitlements cannot approve them."),
    )
    create_date = models.DateTimeField(_("created on"), auto_now_add=True)
    write_date = models.DateTimeField(_("last updated on"), auto_now=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("program")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                "company",
                name="program_name_ci_unique_per_company",
                violation_error_message=_("A program with this name already exists."),
            ),
            models.CheckConstraint(condition=~Q(name=""), name="program_name_not_empty"),
            models.CheckConstraint(
                condition=Q(state=ProgramState.ENDED) | Q(date_ended__isnull=True),
                name="program_date_ended_only_when_ended",
            ),
            models.CheckConstraint(
                condition=~Q(locked=True) | ~Q(locked_reason=""), name="program_lock_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not (self.name or "").strip():
            raise ValidationError({"name": _("The program name is required.")})
        if (
            len(self.currency or "") != 3
            or not self.currency.isalpha()
            or not self.currency.isupper()
        ):
            raise ValidationError({"currency": _("Use a three-letter ISO 4217 code, e.g. KES.")})


@pghistory.track(*audit_trackers())
class ManagerAssignment(ValidatedModel):
    """A manager of some kind attached to a program, with its validated JSON configuration.

    ``manager_key`` names a class in :data:`g2p_programs.registry.registry`; ``config`` is
    validated by that class's pydantic ``Config`` on every save. Program, cycle, entitlement and
    payment allow one active manager each (partial unique index); eligibility managers are
    chained in ``sequence`` order, deduplication and notification managers all run.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="managers")
    kind = models.CharField(_("kind"), max_length=16, choices=ManagerKind.choices)
    manager_key = models.CharField(_("manager"), max_length=64)
    name = models.CharField(_("name"), max_length=255, default="Default")
    config = models.JSONField(_("configuration"), default=dict, blank=True)
    sequence = models.PositiveIntegerField(_("sequence"), default=10)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["program", "kind", "sequence", "pk"]
        verbose_name = _("program manager assignment")
        constraints = [
            models.UniqueConstraint(
                fields=["program", "kind"],
                condition=Q(active=True, kind__in=[k.value for k in SINGLE_MANAGER_KINDS]),
                name="one_active_single_manager_per_program",
                violation_error_message=_(
                    "Only one manager can be configured under this list. Please delete any new "
                    "manager(s) before saving your changes."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name} ({self.manager_key})"

    @property
    def manager_class(self) -> Any:
        from g2p_programs.registry import registry

        return registry.get(self.kind, self.manager_key)

    def clean(self) -> None:
        cls = self.manager_class
        self.config = cls.validate_config(self.config).model_dump(mode="json")

    def instance(self) -> Any:
        """The manager object bound to its program and validated configuration."""
        cls = self.manager_class
        return cls(program=self.program, config=cls.validate_config(self.config), assignment=self)


@pghistory.track(*audit_trackers())
class ProgramMembership(ValidatedModel):
    """A registrant's membership of a program: a beneficiary or a candidate.

    Upstream ``g2p.program_membership``.
    """

    # no single-column indexes: program_membership_unique leads with the registrant and
    # program_membership_state_idx with the program (every bulk write maintains each index)
    registrant = models.ForeignKey(
        Registrant,
        on_delete=models.PROTECT,
        related_name="program_memberships",
        verbose_name=_("registrant"),
        db_index=False,
    )
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    state = models.CharField(
        _("state"), max_length=16, choices=MembershipState.choices, default=MembershipState.DRAFT
    )
    enrollment_date = models.DateTimeField(_("enrollment date"), null=True, blank=True)
    exit_date = models.DateField(_("exit date"), null=True, blank=True)
    create_date = models.DateTimeField(_("created on"), default=timezone.now)
    write_date = models.DateTimeField(_("last updated on"), default=timezone.now)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("program membership")
        constraints = [
            models.UniqueConstraint(
                fields=["registrant", "program"],
                name="program_membership_unique",
                violation_error_message=_("Beneficiary must be unique per program."),
            ),
            models.CheckConstraint(
                condition=~Q(state=MembershipState.ENROLLED) | Q(enrollment_date__isnull=False),
                name="program_membership_enrolled_has_date",
            ),
        ]
        indexes = [models.Index(fields=["program", "state"], name="program_membership_state_idx")]

    def __str__(self) -> str:
        return f"{self.program_id} / {self.registrant_id}"


@pghistory.track(*audit_trackers())
class DuplicateGroup(models.Model):
    """Memberships a deduplication manager found to duplicate each other.

    Upstream ``g2p.program.membership.duplicate``. An officer clears a false match by setting
    ``state`` to not_duplicate.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="duplicate_groups")
    manager = models.ForeignKey(
        ManagerAssignment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("deduplication reason"), max_length=255)
    state = models.CharField(
        _("state"), max_length=16, choices=DuplicateState.choices, default=DuplicateState.DUPLICATE
    )
    comment = models.TextField(_("comment"), blank=True)
    memberships = models.ManyToManyField(
        ProgramMembership, through="DuplicateGroupMember", related_name="duplicate_groups"
    )
    create_date = models.DateTimeField(_("created on"), default=timezone.now)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("duplicate")

    def __str__(self) -> str:
        return f"{self.reason} ({self.get_state_display()})"


class DuplicateGroupMember(models.Model):
    """A membership listed in a duplicate group."""

    duplicate_group = models.ForeignKey(
        DuplicateGroup, on_delete=models.CASCADE, related_name="members"
    )
    membership = models.ForeignKey(ProgramMembership, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["duplicate_group", "membership"], name="duplicate_member_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.duplicate_group_id}: {self.membership_id}"


@pghistory.track(*audit_trackers())
class Cycle(ValidatedModel):
    """A distribution round of a program (upstream ``g2p.cycle``)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="cycles")
    name = models.CharField(_("name"), max_length=255)
    sequence = models.PositiveIntegerField(_("sequence"), default=1)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    state = models.CharField(
        _("state"), max_length=16, choices=CycleState.choices, default=CycleState.DRAFT
    )
    auto_approve_entitlements = models.BooleanField(_("auto-approve entitlements"), default=False)
    locked = models.BooleanField(_("locked"), default=False)
    locked_reason = models.CharField(_("locked reason"), max_length=255, blank=True)
    entitlements_prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_date = models.DateTimeField(_("approved on"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    create_date = models.DateTimeField(_("created on"), auto_now_add=True)
    write_date = models.DateTimeField(_("last updated on"), auto_now=True)

    class Meta:
        ordering = ["program", "sequence"]
        verbose_name = _("cycle")
        permissions = [("approve_cycle", _("Can approve cycles"))]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "name"],
                name="cycle_name_unique_per_program",
                violation_error_message=_(
                    "Cycle with this name already exists.Please choose a different name."
                ),
            ),
            models.UniqueConstraint(
                fields=["program", "sequence"], name="cycle_sequence_unique_per_program"
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="cycle_dates_ordered",
                violation_error_message=_("The end date cannot be before the start date."),
            ),
            models.CheckConstraint(
                condition=~Q(locked=True) | ~Q(locked_reason=""), name="cycle_lock_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return self.name


@pghistory.track(*audit_trackers())
class CycleMembership(models.Model):
    """A beneficiary of a cycle (upstream ``g2p.cycle.membership``)."""

    # indexed through cycle_membership_unique (registrant first) and cycle_membership_state_idx
    registrant = models.ForeignKey(
        Registrant, on_delete=models.PROTECT, related_name="cycle_memberships", db_index=False
    )
    cycle = models.ForeignKey(
        Cycle, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=CycleMembershipState.choices,
        default=CycleMembershipState.DRAFT,
    )
    enrollment_date = models.DateField(_("enrollment date"), default=timezone.localdate)

    class Meta:
        ordering = ["registrant", "-pk"]
        verbose_name = _("cycle membership")
        constraints = [
            models.UniqueConstraint(
                fields=["registrant", "cycle"],
                name="cycle_membership_unique",
                violation_error_message=_("Beneficiary must be unique per cycle."),
            ),
        ]
        indexes = [models.Index(fields=["cycle", "state"], name="cycle_membership_state_idx")]

    def __str__(self) -> str:
        return f"[{self.cycle_id}] {self.registrant_id}"


@pghistory.track(*audit_trackers())
class Entitlement(ValidatedModel):
    """What a beneficiary is owed in a cycle (upstream ``g2p.entitlement``).

    ``program`` is stored (upstream derived it) so that fund balances and program-wide lists
    are single indexed queries.
    """

    # unique through entitlement_code_unique (a plain btree: codes are looked up whole, so no
    # pattern index); cycle and program are indexed through the composite indexes below
    code = models.CharField(_("code"), max_length=64, default=entitlement_code, editable=False)
    ern = models.CharField(_("ERN"), max_length=16, blank=True)
    registrant = models.ForeignKey(
        Registrant, on_delete=models.PROTECT, related_name="entitlements"
    )
    cycle = models.ForeignKey(
        Cycle, on_delete=models.CASCADE, related_name="entitlements", db_index=False
    )
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="entitlements", db_index=False
    )
    is_cash_entitlement = models.BooleanField(_("cash entitlement"), default=True)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    initial_amount = models.DecimalField(_("amount"), **MONEY)
    transfer_fee = models.DecimalField(_("transfer fee"), default=0, **MONEY)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=EntitlementState.choices, default=EntitlementState.DRAFT
    )
    date_approved = models.DateField(_("date approved"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    create_date = models.DateTimeField(_("created on"), default=timezone.now)

    class Meta:
        ordering = ["registrant", "-pk"]
        verbose_name = _("entitlement")
        permissions = [
            ("prepare_entitlements", _("Can prepare entitlements")),
            ("approve_entitlement", _("Can approve entitlements")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="entitlement_code_unique"),
            models.UniqueConstraint(
                fields=["cycle", "registrant"], name="entitlement_unique_per_cycle"
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="entitlement_validity_ordered",
                violation_error_message=_(
                    'The "Valid Until" date cannot be earlier than the "Valid From" date.'
                ),
            ),
            models.CheckConstraint(
                condition=Q(initial_amount__gte=0, transfer_fee__gte=0),
                name="entitlement_amounts_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["cycle", "state"], name="entitlement_cycle_state_idx"),
            models.Index(fields=["program", "state"], name="entitlement_program_state_idx"),
        ]

    def __str__(self) -> str:
        if self.is_cash_entitlement:
            return f"Entitlement Cash [{self.currency} {self.initial_amount:,.2f}]"
        return f"Entitlement ({self.code})"


@pghistory.track(*audit_trackers())
class PaymentBatchTag(ValidatedModel):
    """How approved entitlements are split into payment batches (``g2p.payment.batch.tag``):
    the first tag (by ``order``) whose domain matches an entitlement takes it."""

    name = models.CharField(_("name"), max_length=255)
    order = models.PositiveIntegerField(_("order"), default=1)
    domain = models.TextField(_("domain"), default="[]")
    max_batch_size = models.PositiveIntegerField(_("maximum batch size"), default=500)

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = _("payment batch tag")
        constraints = [
            models.CheckConstraint(
                condition=Q(max_batch_size__gte=1), name="batch_tag_size_positive"
            )
        ]

    def __str__(self) -> str:
        return self.name


@pghistory.track(*audit_trackers())
class PaymentBatch(models.Model):
    """A batch of payments sent together (upstream ``g2p.payment.batch``)."""

    name = models.CharField(
        _("internal batch reference #"), max_length=64, unique=True, default=uuid_name
    )
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="payment_batches")
    tag = models.ForeignKey(
        PaymentBatchTag, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    external_batch_ref = models.CharField(_("external batch reference"), max_length=255, blank=True)
    batch_has_started = models.BooleanField(_("started"), default=False)
    batch_has_completed = models.BooleanField(_("completed"), default=False)
    stats_datetime = models.DateTimeField(_("statistics date"), null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("payment batch")
        verbose_name_plural = _("payment batches")

    def __str__(self) -> str:
        return self.name


@pghistory.track(*audit_trackers())
class Payment(models.Model):
    """A payment of an entitlement (upstream ``g2p.payment``). An entitlement has at most one
    payment that has not failed (partial unique index), so preparing payments twice issues none
    twice, and a failed payment can be issued again."""

    # unique through payment_name_unique (no pattern index); cycle through
    # payment_cycle_state_idx
    name = models.CharField(_("internal reference #"), max_length=64, default=uuid_name)
    entitlement = models.ForeignKey(Entitlement, on_delete=models.PROTECT, related_name="payments")
    cycle = models.ForeignKey(
        Cycle, on_delete=models.CASCADE, related_name="payments", db_index=False
    )
    batch = models.ForeignKey(
        PaymentBatch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="payments",
        db_index=False,  # payment_batch_id_idx (batch, id) leads with it
    )
    state = models.CharField(
        _("state"), max_length=16, choices=PaymentState.choices, default=PaymentState.ISSUED
    )
    status = models.CharField(
        _("payment status"), max_length=16, choices=PaymentStatus.choices, blank=True
    )
    status_is_final = models.BooleanField(_("status is final"), default=False)
    status_datetime = models.DateTimeField(_("status date"), null=True, blank=True)
    account_number = models.CharField(_("account number"), max_length=64, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    amount_issued = models.DecimalField(_("amount issued"), **MONEY)
    amount_paid = models.DecimalField(_("amount paid"), null=True, blank=True, **MONEY)
    payment_fee = models.DecimalField(_("payment fee"), default=0, **MONEY)
    issuance_date = models.DateTimeField(_("issued on"), default=timezone.now)
    payment_datetime = models.DateTimeField(_("paid on"), null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("payment")
        permissions = [
            ("prepare_payments", _("Can prepare payments")),
            ("send_payments", _("Can send payments")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="payment_name_unique"),
            models.UniqueConstraint(
                fields=["entitlement"],
                condition=~Q(status=PaymentStatus.FAILED),
                name="payment_one_live_per_entitlement",
            ),
            models.CheckConstraint(
                condition=Q(amount_issued__gte=0, payment_fee__gte=0),
                name="payment_amounts_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["cycle", "state"], name="payment_cycle_state_idx"),
            # A batch's payments in id order (payment files stream them; "is the batch
            # complete" probes it) without a sort or a scan of the whole table.
            models.Index(fields=["batch", "id"], name="payment_batch_id_idx"),
        ]

    def __str__(self) -> str:
        return self.name


@pghistory.track(*audit_trackers())
class ProgramFund(ValidatedModel):
    """Money allocated to a program (upstream ``g2p.program.fund``).

    Posted entries count toward the program's balance. Posting assigns the next reference
    ``PF-<year>-<6 digits>`` from :class:`FundSequence` without gaps.
    """

    name = models.CharField(_("reference number"), max_length=32, default=FUND_DRAFT_NAME)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="funds")
    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, default=default_company_id, related_name="+"
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    remarks = models.TextField(_("remarks"), blank=True)
    date_posted = models.DateField(_("date posted"), default=timezone.localdate)
    state = models.CharField(
        _("state"), max_length=16, choices=FundState.choices, default=FundState.DRAFT
    )
    create_date = models.DateTimeField(_("created on"), auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("program fund")
        permissions = [("post_fund", _("Can post, cancel and reset program funds"))]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=~Q(name=FUND_DRAFT_NAME), name="fund_reference_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="fund_amount_positive",
                violation_error_message=_("The amount must be greater than zero."),
            ),
            models.CheckConstraint(
                condition=~Q(state=FundState.POSTED) | ~Q(name=FUND_DRAFT_NAME),
                name="fund_posted_has_reference",
            ),
        ]
        indexes = [models.Index(fields=["program", "state"], name="fund_program_state_idx")]

    def __str__(self) -> str:
        return self.name


class FundSequence(models.Model):
    """The last fund reference number issued per year; the row is locked while posting, so
    references are gapless and never reused."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("fund reference sequence")

    def __str__(self) -> str:
        return f"PF-{self.year}-{self.last_number:06d}"
