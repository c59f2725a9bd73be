"""Program models under their upstream names (``g2p.program``, ``g2p.cycle``, …) and their buttons.

Reads follow :class:`~addons.g2p_rpc.models_map.ModelAdapter`. Records are created only where
the programs app has a service for it (programs, memberships, funds); everything else changes
through the upstream button methods, which call the same services as the back office and
return upstream's notification actions. A refusal raises and the call's transaction is rolled
back, so nothing changes.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone

from addons.g2p_rpc.errors import AccessError, MissingError, UserError
from addons.g2p_rpc.fields import RpcField, to_wire
from addons.g2p_rpc.models import RpcWizardRecord
from addons.g2p_rpc.models_map import ModelAdapter, _ids
from g2p_programs import selectors
from g2p_programs.choices import (
    CycleMembershipState,
    CycleState,
    EntitlementState,
    FundState,
    ManagerKind,
    MembershipState,
    PaymentState,
    PaymentStatus,
    ProgramState,
    TargetType,
)
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    ManagerAssignment,
    Payment,
    PaymentBatch,
    Program,
    ProgramFund,
    ProgramMembership,
)
from g2p_programs.results import Notification
from g2p_programs.services import (
    cycles,
    entitlements,
    funds,
    payments,
    programs,
    records,
    updates,
)
from g2p_registry_base.models import Registrant
from pbms import domains

WIZARD_LIFETIME_HOURS = 1
_SCALAR_KINDS = {"char", "text", "selection", "boolean", "integer", "date", "datetime"}


def _choices(cls: Any) -> list[list[str]]:
    return [[str(value), str(label)] for value, label in cls.choices]


def _action(result: Any) -> Any:
    """What a button returns over RPC: upstream's notification action, or ``True``."""
    if isinstance(result, Notification):
        return result.as_odoo_action()
    if isinstance(result, tuple):
        for item in result:
            if isinstance(item, Notification):
                return item.as_odoo_action()
    return True


def _m2o(obj: Any, registry: dict[str, ModelAdapter], relation: str) -> Any:
    return [obj.pk, registry[relation].display_name(obj)] if obj is not None else False


class ProgramModelAdapter(ModelAdapter):
    """An adapter whose domain schema is derived from its stored fields."""

    perm_model: ClassVar[str]
    buttons: ClassVar[dict[str, Callable[..., Any]]] = {}

    def __init__(self, registry: dict[str, ModelAdapter]) -> None:
        super().__init__(registry)
        self.schema = self.derive_schema()  # type: ignore[misc]

    @property
    def app_perm(self) -> str:  # type: ignore[override]
        return "g2p_programs.{verb}_" + self.perm_model

    def derive_schema(self) -> domains.DomainSchema:
        specs: dict[str, domains.FieldSpec] = {}
        for fld in self.fields.values():
            if not fld.stored or fld.name == "id":
                continue
            assert fld.attr is not None
            if fld.type in ("many2one", "one2many", "many2many"):
                if fld.relation not in ("res.partner", "res.company", "res.users") and (
                    fld.relation is None or not fld.relation.startswith("g2p.")
                ):
                    continue
                specs[fld.name] = domains.FieldSpec(
                    fld.attr, fld.type, schema=self._schema_of(str(fld.relation))
                )
            elif fld.type == "float":
                model_field = self.model._meta.get_field(fld.attr)
                kind = "decimal" if isinstance(model_field, models.DecimalField) else "float"
                specs[fld.name] = domains.FieldSpec(fld.attr, kind)
            elif fld.type in _SCALAR_KINDS:
                specs[fld.name] = domains.FieldSpec(fld.attr, fld.type)
        rec_name = self.rec_name if self.rec_name in specs else None
        return domains.DomainSchema(self.model, specs, name=self.name, rec_name=rec_name)

    def _schema_of(self, relation: str) -> Callable[[], domains.DomainSchema]:
        return lambda: self.registry[relation].schema

    def display_name(self, obj: Any) -> str:
        return str(getattr(obj, "name", "") or obj)

    def check_writable(self, verb: str) -> None:
        allowed = {"add": self.creatable, "change": self.writable, "delete": False}.get(verb, True)
        if not allowed:
            raise AccessError(
                f"'{self.name}' records are changed through their actions only over RPC."
            )

    creatable: ClassVar[bool] = False
    writable: ClassVar[bool] = False  # ``write`` goes through the model's update service

    def run_button(self, method: str, user: Any, ids: Any, **_: Any) -> Any:
        result: Any = True
        for obj in self.records(user, ids):
            self.require(user, "view")
            result = _action(self.buttons[method](self, obj, user))
        return result

    def __getattr__(self, name: str) -> Any:
        buttons = type(self).buttons
        if name in buttons:
            return lambda user, ids=None, *args, **kwargs: self.run_button(name, user, ids)
        raise AttributeError(name)


def _manager_fields() -> list[RpcField]:
    """The seven manager relations of a program (wrapper ids, see :mod:`.managers_map`)."""
    from addons.g2p_rpc.managers_map import program_manager_fields

    return program_manager_fields()


def _count(
    kind: str,
) -> Callable[[Program], int]:
    def compute(program: Program) -> int:
        # the three count fields of one record share one GROUP BY query
        counts = getattr(program, "_rpc_beneficiary_counts", None)
        if counts is None:
            counts = selectors.beneficiaries_count_by_state(program=program)
            program._rpc_beneficiary_counts = counts  # type: ignore[attr-defined]
        return int(counts["total" if kind == "total" else kind])

    return compute


class ProgramAdapter(ProgramModelAdapter):
    name = "g2p.program"
    copy_fields = ("name", "target_type", "currency", "description")
    model = Program
    perm_model = "program"
    has_active = True
    creatable = True
    writable = True
    buttons: ClassVar[dict[str, Callable[..., Any]]] = {
        "enroll_eligible_registrants": lambda self, obj, user: programs.program_enroll_eligible(
            program=obj, actor=user
        ),
        "verify_eligibility": lambda self, obj, user: programs.program_verify_eligibility(
            program=obj, actor=user
        ),
        "deduplicate_beneficiaries": lambda self, obj, user: programs.program_deduplicate(
            program=obj, actor=user
        ),
        "create_new_cycle": lambda self, obj, user: cycles.program_create_new_cycle(
            program=obj, actor=user
        ),
        "end_program": lambda self, obj, user: programs.program_end(program=obj, actor=user),
        "reactivate_program": lambda self, obj, user: programs.program_reactivate(
            program=obj, actor=user
        ),
    }
    extra_methods = frozenset(buttons)

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("name", "char", "Name", attr="name", required=True),
            RpcField("description", "text", "Description", attr="description"),
            RpcField("company_id", "many2one", "Company", attr="company", relation="res.company"),
            RpcField(
                "target_type",
                "selection",
                "Target Type",
                attr="target_type",
                selection=_choices(TargetType),
            ),
            RpcField(
                "state",
                "selection",
                "State",
                attr="state",
                readonly=True,
                selection=_choices(ProgramState),
            ),
            RpcField("date_ended", "date", "Date Ended", attr="date_ended", readonly=True),
            RpcField("currency", "char", "Currency", attr="currency", required=True),
            RpcField("active", "boolean", "Active", attr="active"),
            RpcField("locked", "boolean", "Locked", attr="locked", readonly=True),
            RpcField("locked_reason", "char", "Locked Reason", attr="locked_reason", readonly=True),
            RpcField(
                "program_membership_ids",
                "one2many",
                "Program Memberships",
                attr="memberships",
                relation="g2p.program_membership",
                relation_field="program_id",
            ),
            RpcField(
                "cycle_ids",
                "one2many",
                "Cycles",
                attr="cycles",
                relation="g2p.cycle",
                relation_field="program_id",
            ),
            RpcField(
                "eligible_beneficiaries_count",
                "integer",
                "# Eligible Beneficiaries",
                compute=_count(MembershipState.ENROLLED),
            ),
            RpcField("beneficiaries_count", "integer", "# Beneficiaries", compute=_count("total")),
            RpcField(
                "duplicate_membership_count",
                "integer",
                "# Duplicate Beneficiaries",
                compute=_count(MembershipState.DUPLICATED),
            ),
            RpcField(
                "cycles_count",
                "integer",
                "# Cycles",
                compute=lambda o: len(o.cycles.all()),
                prefetch=("cycles",),
            ),
            RpcField(
                "fund_balance",
                "float",
                "Fund Balance",
                compute=lambda o: float(funds.program_fund_balance(program=o)),
            ),
            RpcField("create_date", "datetime", "Created on", attr="create_date", readonly=True),
            RpcField("write_date", "datetime", "Last Updated on", attr="write_date", readonly=True),
            *_manager_fields(),
        ]

    def create_one(self, user: Any, vals: dict[str, Any]) -> int:
        plain, commands = self.scalar_values(vals)
        if commands:
            raise UserError("Memberships and cycles are added through their own actions.")
        allowed = {"name", "target_type", "currency", "description"}
        extra = sorted(set(plain) - allowed)
        if extra:
            raise UserError(f"These fields cannot be set when creating a program: {extra}")
        program = programs.program_create(
            name=plain.get("name") or "",
            target_type=plain.get("target_type") or TargetType.GROUP,
            currency=plain.get("currency") or "",
            description=plain.get("description") or "",
            actor=user,
        )
        return program.pk

    def write_one(self, user: Any, obj: Any, vals: dict[str, Any]) -> None:
        """Name, description, target type and currency, by the back office's update service
        (upstream's rules: nothing of an ended program, no target type change once it has
        beneficiaries)."""
        self.require(user, "change")
        plain, commands = self.scalar_values(vals)
        if commands:
            raise UserError("Memberships and cycles are changed through their own actions.")
        updates.program_update(program=obj, values=plain, actor=user)


class ProgramMembershipAdapter(ProgramModelAdapter):
    name = "g2p.program_membership"
    model = ProgramMembership
    perm_model = "programmembership"
    rec_name = None
    creatable = True
    buttons: ClassVar[dict[str, Callable[..., Any]]] = {
        "enroll_eligible_registrants": lambda self, obj, user: programs.membership_enroll(
            membership=obj, actor=user
        ),
        "verify_eligibility": lambda self, obj, user: records.membership_verify_eligibility(
            membership=obj, actor=user
        ),
        "Back_to_draft": lambda self, obj, user: programs.membership_back_to_draft(
            membership=obj, actor=user
        ),
    }
    extra_methods = frozenset(buttons)

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField(
                "partner_id",
                "many2one",
                "Registrant",
                attr="registrant",
                relation="res.partner",
                required=True,
            ),
            RpcField(
                "program_id",
                "many2one",
                "Program",
                attr="program",
                relation="g2p.program",
                required=True,
            ),
            RpcField(
                "state",
                "selection",
                "Status",
                attr="state",
                readonly=True,
                selection=_choices(MembershipState),
            ),
            RpcField(
                "enrollment_date",
                "datetime",
                "Enrollment Date",
                attr="enrollment_date",
                readonly=True,
            ),
            RpcField("exit_date", "date", "Exit Date", attr="exit_date", readonly=True),
            RpcField("create_date", "datetime", "Created on", attr="create_date", readonly=True),
        ]

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return ProgramMembership.objects.select_related("registrant", "program")

    def display_name(self, obj: Any) -> str:
        return f"{obj.program.name} - {obj.registrant.name}"

    def create_one(self, user: Any, vals: dict[str, Any]) -> int:
        """A draft membership, added as the "Add to Program" wizard adds it."""
        plain, _commands = self.scalar_values(vals)
        if set(plain) != {"registrant_id", "program_id"} or None in plain.values():
            raise UserError("A membership is created with partner_id and program_id only.")
        program = Program.objects.filter(pk=plain["program_id"]).first()
        if program is None:
            raise MissingError("Record does not exist or has been deleted. (g2p.program)")
        result = programs.program_add_registrants(
            program=program, registrant_ids=[plain["registrant_id"]], actor=user
        )
        membership = ProgramMembership.objects.filter(
            program=program, registrant_id=plain["registrant_id"]
        ).first()
        if membership is None or result.type == "danger":
            raise UserError(result.message)
        return membership.pk


class CycleAdapter(ProgramModelAdapter):
    name = "g2p.cycle"
    model = Cycle
    perm_model = "cycle"
    writable = True
    buttons: ClassVar[dict[str, Callable[..., Any]]] = {
        "copy_beneficiaries_from_program": lambda self, obj, user: cycles.cycle_copy_beneficiaries(
            cycle=obj, actor=user
        ),
        "check_eligibility": lambda self, obj, user: cycles.cycle_check_eligibility(
            cycle=obj, actor=user
        ),
        "prepare_entitlement": lambda self, obj, user: entitlements.entitlements_prepare(
            cycle=obj, actor=user
        ),
        "to_approve": lambda self, obj, user: cycles.cycle_to_approve(cycle=obj, actor=user),
        "reset_draft": lambda self, obj, user: cycles.cycle_reset_draft(cycle=obj, actor=user),
        "approve": lambda self, obj, user: cycles.cycle_approve(cycle=obj, actor=user),
        "validate_entitlement": lambda self, obj, user: entitlements.entitlements_approve(
            cycle=obj, actor=user
        ),
        "prepare_payment": lambda self, obj, user: payments.payments_prepare(cycle=obj, actor=user),
        "send_payment": lambda self, obj, user: payments.payments_send(cycle=obj, actor=user),
        "mark_distributed": lambda self, obj, user: cycles.cycle_mark_distributed(
            cycle=obj, actor=user
        ),
        "mark_ended": lambda self, obj, user: cycles.cycle_mark_ended(cycle=obj, actor=user),
        "mark_cancelled": lambda self, obj, user: cycles.cycle_mark_cancelled(
            cycle=obj, actor=user
        ),
    }
    extra_methods = frozenset(buttons)

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("name", "char", "Name", attr="name", required=True),
            RpcField(
                "program_id",
                "many2one",
                "Program",
                attr="program",
                relation="g2p.program",
                required=True,
            ),
            RpcField("sequence", "integer", "Sequence", attr="sequence", readonly=True),
            RpcField("start_date", "date", "Start Date", attr="start_date", required=True),
            RpcField("end_date", "date", "End Date", attr="end_date", required=True),
            RpcField(
                "state",
                "selection",
                "Status",
                attr="state",
                readonly=True,
                selection=_choices(CycleState),
            ),
            RpcField(
                "auto_approve_entitlements",
                "boolean",
                "Auto-approve Entitlements",
                attr="auto_approve_entitlements",
            ),
            RpcField("locked", "boolean", "Locked", attr="locked", readonly=True),
            RpcField("locked_reason", "char", "Locked Reason", attr="locked_reason", readonly=True),
            RpcField(
                "approved_date", "datetime", "Approved Date", attr="approved_date", readonly=True
            ),
            RpcField(
                "approved_by",
                "many2one",
                "Approved by",
                attr="approved_by",
                relation="res.users",
                readonly=True,
            ),
            RpcField(
                "cycle_membership_ids",
                "one2many",
                "Cycle Memberships",
                attr="memberships",
                relation="g2p.cycle.membership",
                relation_field="cycle_id",
            ),
            RpcField(
                "entitlement_ids",
                "one2many",
                "Entitlements",
                attr="entitlements",
                relation="g2p.entitlement",
                relation_field="cycle_id",
            ),
            RpcField(
                "payment_batch_ids",
                "one2many",
                "Payment Batches",
                attr="payment_batches",
                relation="g2p.payment.batch",
                relation_field="cycle_id",
            ),
            RpcField(
                "members_count",
                "integer",
                "# Beneficiaries",
                compute=lambda o: o.memberships.filter(state=CycleMembershipState.ENROLLED).count(),
            ),
            RpcField(
                "entitlements_count",
                "integer",
                "# Entitlements",
                compute=lambda o: o.entitlements.count(),
            ),
            RpcField(
                "payments_count", "integer", "# Payments", compute=lambda o: o.payments.count()
            ),
            RpcField("create_date", "datetime", "Created on", attr="create_date", readonly=True),
        ]

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return Cycle.objects.select_related("program")

    def write_one(self, user: Any, obj: Any, vals: dict[str, Any]) -> None:
        """Name and dates of a draft cycle, by the back office's update service."""
        self.require(user, "change")
        plain, commands = self.scalar_values(vals)
        if commands:
            raise UserError("Cycle records are changed through the cycle's actions.")
        updates.cycle_update(cycle=obj, values=plain, actor=user)


class CycleMembershipAdapter(ProgramModelAdapter):
    name = "g2p.cycle.membership"
    model = CycleMembership
    perm_model = "cyclemembership"
    rec_name = None

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField(
                "partner_id", "many2one", "Registrant", attr="registrant", relation="res.partner"
            ),
            RpcField("cycle_id", "many2one", "Cycle", attr="cycle", relation="g2p.cycle"),
            RpcField(
                "state",
                "selection",
                "Status",
                attr="state",
                readonly=True,
                selection=_choices(CycleMembershipState),
            ),
            RpcField("enrollment_date", "date", "Enrollment Date", attr="enrollment_date"),
        ]

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return CycleMembership.objects.select_related("registrant", "cycle")

    def display_name(self, obj: Any) -> str:
        return f"{obj.cycle.name} - {obj.registrant.name}"


class EntitlementAdapter(ProgramModelAdapter):
    name = "g2p.entitlement"
    model = Entitlement
    perm_model = "entitlement"
    rec_name = "code"
    buttons: ClassVar[dict[str, Callable[..., Any]]] = {}
    extra_methods = frozenset({"approve_entitlement"})

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("code", "char", "Code", attr="code", readonly=True),
            RpcField("ern", "char", "ERN", attr="ern", readonly=True),
            RpcField(
                "partner_id", "many2one", "Registrant", attr="registrant", relation="res.partner"
            ),
            RpcField("cycle_id", "many2one", "Cycle", attr="cycle", relation="g2p.cycle"),
            RpcField("program_id", "many2one", "Program", attr="program", relation="g2p.program"),
            RpcField(
                "is_cash_entitlement", "boolean", "Cash Entitlement", attr="is_cash_entitlement"
            ),
            RpcField("currency", "char", "Currency", attr="currency"),
            RpcField("initial_amount", "float", "Amount", attr="initial_amount"),
            RpcField("transfer_fee", "float", "Transfer Fee", attr="transfer_fee"),
            RpcField("valid_from", "date", "Valid From", attr="valid_from"),
            RpcField("valid_until", "date", "Valid Until", attr="valid_until"),
            RpcField(
                "state",
                "selection",
                "Status",
                attr="state",
                readonly=True,
                selection=_choices(EntitlementState),
            ),
            RpcField("date_approved", "date", "Date Approved", attr="date_approved"),
            RpcField(
                "approved_by", "many2one", "Approved by", attr="approved_by", relation="res.users"
            ),
            RpcField(
                "payment_ids",
                "one2many",
                "Payments",
                attr="payments",
                relation="g2p.payment",
                relation_field="entitlement_id",
            ),
        ]

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return Entitlement.objects.select_related("registrant", "cycle", "program")

    def display_name(self, obj: Any) -> str:
        return str(obj.code or obj.pk)

    def approve_entitlement(self, user: Any, ids: Any = None, **_: Any) -> Any:
        wanted = [o.pk for o in self.records(user, ids)]
        return _action(
            entitlements.entitlement_approve_selected(entitlement_ids=wanted, actor=user)
        )


class PaymentAdapter(ProgramModelAdapter):
    name = "g2p.payment"
    model = Payment
    perm_model = "payment"

    def declare_fields(self) -> list[RpcField]:
        reg = self.registry
        return [
            RpcField("name", "char", "Internal Reference #", attr="name", readonly=True),
            RpcField(
                "entitlement_id",
                "many2one",
                "Entitlement",
                attr="entitlement",
                relation="g2p.entitlement",
            ),
            RpcField("cycle_id", "many2one", "Cycle", attr="cycle", relation="g2p.cycle"),
            RpcField(
                "program_id",
                "many2one",
                "Program",
                relation="g2p.program",
                compute=lambda o: _m2o(o.entitlement.program, reg, "g2p.program"),
                prefetch=("entitlement__program",),
            ),
            RpcField(
                "partner_id",
                "many2one",
                "Beneficiary",
                relation="res.partner",
                compute=lambda o: _m2o(o.entitlement.registrant, reg, "res.partner"),
                prefetch=("entitlement__registrant",),
            ),
            RpcField("batch_id", "many2one", "Batch", attr="batch", relation="g2p.payment.batch"),
            RpcField(
                "state",
                "selection",
                "Status",
                attr="state",
                readonly=True,
                selection=_choices(PaymentState),
            ),
            RpcField(
                "status",
                "selection",
                "Payment Status",
                attr="status",
                selection=_choices(PaymentStatus),
            ),
            RpcField("status_is_final", "boolean", "Status Is Final", attr="status_is_final"),
            RpcField("status_datetime", "datetime", "Status Date", attr="status_datetime"),
            RpcField("account_number", "char", "Account Number", attr="account_number"),
            RpcField("currency", "char", "Currency", attr="currency"),
            RpcField("amount_issued", "float", "Amount Issued", attr="amount_issued"),
            RpcField("amount_paid", "float", "Amount Paid", attr="amount_paid"),
            RpcField("payment_fee", "float", "Payment Fee", attr="payment_fee"),
            RpcField("issuance_date", "datetime", "Issuance Date", attr="issuance_date"),
            RpcField("payment_datetime", "datetime", "Payment Date", attr="payment_datetime"),
        ]


class PaymentBatchAdapter(ProgramModelAdapter):
    name = "g2p.payment.batch"
    model = PaymentBatch
    perm_model = "paymentbatch"

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("name", "char", "Batch Reference #", attr="name", readonly=True),
            RpcField("cycle_id", "many2one", "Cycle", attr="cycle", relation="g2p.cycle"),
            RpcField("external_batch_ref", "char", "External Batch Ref", attr="external_batch_ref"),
            RpcField("batch_has_started", "boolean", "Started", attr="batch_has_started"),
            RpcField("batch_has_completed", "boolean", "Completed", attr="batch_has_completed"),
            RpcField("stats_datetime", "datetime", "Statistics Date", attr="stats_datetime"),
            RpcField(
                "payment_ids",
                "one2many",
                "Payments",
                attr="payments",
                relation="g2p.payment",
                relation_field="batch_id",
            ),
        ]


class FundAdapter(ProgramModelAdapter):
    name = "g2p.program.fund"
    model = ProgramFund
    perm_model = "programfund"
    creatable = True
    buttons: ClassVar[dict[str, Callable[..., Any]]] = {
        "post_fund": lambda self, obj, user: funds.fund_post(fund=obj, actor=user),
        "cancel_fund": lambda self, obj, user: funds.fund_cancel(fund=obj, actor=user),
        "reset_draft": lambda self, obj, user: funds.fund_reset_draft(fund=obj, actor=user),
    }
    extra_methods = frozenset(buttons)

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("name", "char", "Reference Number", attr="name", readonly=True),
            RpcField(
                "program_id",
                "many2one",
                "Program",
                attr="program",
                relation="g2p.program",
                required=True,
            ),
            RpcField("company_id", "many2one", "Company", attr="company", relation="res.company"),
            RpcField("amount", "float", "Amount", attr="amount", required=True),
            RpcField("currency", "char", "Currency", attr="currency", readonly=True),
            RpcField("remarks", "text", "Remarks", attr="remarks"),
            RpcField("date_posted", "date", "Date Posted", attr="date_posted", readonly=True),
            RpcField(
                "state",
                "selection",
                "Status",
                attr="state",
                readonly=True,
                selection=_choices(FundState),
            ),
        ]

    def create_one(self, user: Any, vals: dict[str, Any]) -> int:
        plain, _commands = self.scalar_values(vals)
        extra = sorted(set(plain) - {"program_id", "amount", "remarks"})
        if extra:
            raise UserError(f"These fields cannot be set when creating a fund: {extra}")
        program = Program.objects.filter(pk=plain.get("program_id") or 0).first()
        if program is None:
            raise UserError("program_id: a program is required.")
        fund = funds.fund_create(
            program=program,
            amount=plain.get("amount") or Decimal("0"),
            remarks=plain.get("remarks") or "",
            actor=user,
        )
        return fund.pk


# --- wizards ------------------------------------------------------------------------------------


class WizardAdapter(ModelAdapter):
    """An upstream transient model: ``create`` keeps the values (and the context's
    ``active_ids``) for the calling user, ``read`` gives them back, the action runs the
    service. Records of other users are not found."""

    model = RpcWizardRecord
    rec_name = None
    context_methods: ClassVar[frozenset[str]] = frozenset({"create"})
    schema = domains.DomainSchema(RpcWizardRecord, {}, rec_name=None)

    def display_name(self, obj: Any) -> str:
        return f"{self.name},{obj.pk}"

    def require(self, user: Any, verb: str) -> None:
        """Signed-in users may make wizard records; the action checks the permissions."""

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return RpcWizardRecord.objects.filter(model=self.name, user=user)

    def search(self, user: Any, domain: Any = None, **_: Any) -> list[int]:  # type: ignore[override]
        if domain:
            raise ValueError(f"'{self.name}' records cannot be searched.")
        return list(self.base_queryset(user).order_by("-pk").values_list("pk", flat=True))

    def search_count(self, user: Any, domain: Any = None, **kwargs: Any) -> int:  # type: ignore[override]
        return len(self.search(user, domain))

    def read(  # type: ignore[override]
        self,
        user: Any,
        ids: Any,
        fields: list[str] | None = None,
        load: str = "_classic_read",
        **_: Any,
    ) -> list[dict[str, Any]]:
        wanted = [self.field(n) for n in (fields or []) if n != "id"] or [
            f for n, f in self.fields.items() if n != "id"
        ]
        by_id = {o.pk: o for o in self.base_queryset(user).filter(pk__in=_ids(ids))}
        classic = load == "_classic_read"
        return [
            {"id": pk, **{f.name: self.read_value(by_id[pk], f, classic) for f in wanted}}
            for pk in _ids(ids)
            if pk in by_id
        ]

    def read_value(self, obj: Any, f: RpcField, classic: bool) -> Any:
        if f.compute is not None:
            return f.compute(obj)
        value = obj.values.get(f.name)
        if f.type == "many2one":
            if not value:
                return False
            if not classic:
                return value
            assert f.relation is not None
            target = self.registry[f.relation].model._default_manager.filter(pk=value).first()
            if target is None:
                return False
            return [value, self.registry[f.relation].display_name(target)]
        if f.type in ("one2many", "many2many"):
            return list(value or [])
        if value is None:
            return to_wire(f.type, self.defaults().get(f.name))
        return value

    def defaults(self) -> dict[str, Any]:
        return {}

    def default_get(self, user: Any, fields_list: list[str] | None = None, **_: Any) -> dict:
        return {k: v for k, v in self.defaults().items() if not fields_list or k in fields_list}

    def create_one(
        self, user: Any, vals: dict[str, Any], context: dict[str, Any] | None = None
    ) -> int:
        if not isinstance(vals, dict):
            raise ValueError(f"Invalid values {vals!r}: a dictionary is expected.")
        for name, value in vals.items():
            fld = self.field(name)
            if fld.is_readonly:
                raise UserError(f"The field {name!r} of {self.name!r} is read-only.")
            if fld.type == "many2one" and value is not False and not isinstance(value, int):
                raise ValueError(f"Invalid value {value!r} for many2one field {name!r}")
        values = {**self.defaults(), **vals}
        self.check_values(user, values, context or {})
        active_ids = _ids((context or {}).get("active_ids"))
        # Like Odoo's transient models, records left without their action are dropped later.
        RpcWizardRecord.objects.filter(
            create_date__lt=timezone.now() - datetime.timedelta(hours=WIZARD_LIFETIME_HOURS)
        ).delete()
        record = RpcWizardRecord.objects.create(
            model=self.name, user=user, values=values, context={"active_ids": active_ids}
        )
        return record.pk

    def check_values(self, user: Any, values: dict[str, Any], context: dict[str, Any]) -> None:
        """Refuse values the wizard could never act on (upstream's ``default_get`` checks)."""

    def create(
        self, user: Any, vals_list: Any, context: dict[str, Any] | None = None, **_: Any
    ) -> Any:
        single = isinstance(vals_list, dict)
        ids = [self.create_one(user, v, context) for v in ([vals_list] if single else vals_list)]
        return ids[0] if single else ids

    def write(self, user: Any, ids: Any, vals: dict[str, Any], **_: Any) -> bool:
        for obj in self.records(user, ids):
            for name in vals:
                if self.field(name).is_readonly:
                    raise UserError(f"The field {name!r} of {self.name!r} is read-only.")
            obj.values = {**obj.values, **vals}
            obj.save(update_fields=["values"])
        return True

    def unlink(self, user: Any, ids: Any, **_: Any) -> bool:
        for obj in self.records(user, ids):
            obj.delete()
        return True


class AssignProgramWizardAdapter(WizardAdapter):
    """Upstream's "Add to Program" wizard over the registrants in the context's ``active_ids``."""

    name = "g2p.assign.program.wizard"
    extra_methods = frozenset({"assign_registrant"})

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField(
                "program_id", "many2one", "Program", attr="program_id", relation="g2p.program"
            ),
            RpcField(
                "target_type",
                "selection",
                "Target Type",
                attr="target_type",
                selection=_choices(TargetType),
            ),
        ]

    def check_values(self, user: Any, values: dict[str, Any], context: dict[str, Any]) -> None:
        ids = _ids(context.get("active_ids"))
        if not ids:
            raise UserError("There are no selected registrants!")
        if not values.get("target_type"):
            first = Registrant.objects.filter(pk=ids[0]).first()
            values["target_type"] = (
                TargetType.GROUP if first is not None and first.is_group else TargetType.INDIVIDUAL
            )

    def assign_registrant(self, user: Any, ids: Any = None, **_: Any) -> Any:
        result: Any = True
        for obj in self.records(user, ids):
            program = Program.objects.filter(pk=obj.values.get("program_id") or 0).first()
            if program is None:
                raise UserError("program_id: choose the program to add the registrants to.")
            result = _action(
                programs.program_add_registrants(
                    program=program,
                    registrant_ids=obj.context.get("active_ids") or [],
                    actor=user,
                )
            )
            obj.delete()
        return result


class CreateProgramWizardAdapter(WizardAdapter):
    """Upstream's create-program wizard: the program with its default managers, configured
    with the amounts, fees, eligibility domain and cycle approval settings given."""

    name = "g2p.program.create.wizard"
    extra_methods = frozenset({"create_program"})

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("name", "char", "Program Name", attr="name", required=True),
            RpcField("currency", "char", "Currency", attr="currency", required=True),
            RpcField(
                "target_type",
                "selection",
                "Target Type",
                attr="target_type",
                selection=_choices(TargetType),
            ),
            RpcField("description", "text", "Description", attr="description"),
            RpcField("eligibility_domain", "text", "Eligibility Domain", attr="eligibility_domain"),
            RpcField(
                "auto_approve_entitlements",
                "boolean",
                "Auto-approve Entitlements",
                attr="auto_approve_entitlements",
            ),
            RpcField("approver_group", "char", "Cycle Approver Role", attr="approver_group"),
            RpcField("amount_per_cycle", "float", "Amount per cycle", attr="amount_per_cycle"),
            RpcField(
                "amount_per_individual_in_group",
                "float",
                "Amount per individual in group",
                attr="amount_per_individual_in_group",
            ),
            RpcField(
                "max_individual_in_group",
                "integer",
                "Maximum members per group",
                attr="max_individual_in_group",
            ),
            RpcField("transfer_fee_pct", "float", "Transfer Fee (%)", attr="transfer_fee_pct"),
            RpcField("transfer_fee_amt", "float", "Transfer Fee Amount", attr="transfer_fee_amt"),
        ]

    def defaults(self) -> dict[str, Any]:
        return {
            "target_type": TargetType.GROUP.value,
            "eligibility_domain": "[]",
            "auto_approve_entitlements": False,
            "amount_per_cycle": 0.0,
            "amount_per_individual_in_group": 0.0,
            "max_individual_in_group": 0,
            "transfer_fee_pct": 0.0,
            "transfer_fee_amt": 0.0,
        }

    def create_program(self, user: Any, ids: Any = None, **_: Any) -> Any:
        [obj] = self.records(user, ids)[:1] or [None]
        if obj is None:
            raise MissingError("Record does not exist or has been deleted.")
        vals = {**self.defaults(), **obj.values}
        if not float(vals["amount_per_cycle"] or 0) and not float(
            vals["amount_per_individual_in_group"] or 0
        ):
            raise UserError(
                "The 'Amount per cycle' or 'Amount per individual in group' must be filled-up "
                "for the default entitlement manager."
            )
        program = programs.program_create(
            name=vals.get("name") or "",
            target_type=vals.get("target_type") or TargetType.GROUP,
            currency=vals.get("currency") or "",
            eligibility_domain=vals.get("eligibility_domain") or "[]",
            description=vals.get("description") or "",
            actor=user,
        )
        entitlement_config = {
            key: str(vals[key]) if isinstance(vals[key], float) else vals[key]
            for key in (
                "amount_per_cycle",
                "amount_per_individual_in_group",
                "max_individual_in_group",
                "transfer_fee_pct",
                "transfer_fee_amt",
            )
        }
        self._configure(program, ManagerKind.ENTITLEMENT, entitlement_config, user)
        cycle_config: dict[str, Any] = {
            "auto_approve_entitlements": bool(vals["auto_approve_entitlements"])
        }
        if vals.get("approver_group"):
            cycle_config["approver_group"] = vals["approver_group"]
        self._configure(program, ManagerKind.CYCLE, cycle_config, user)
        obj.delete()
        return {
            "name": "Programs",
            "type": "ir.actions.act_window",
            "res_model": "g2p.program",
            "res_id": program.pk,
            "view_mode": "form",
            "target": "current",
        }

    def _configure(self, program: Program, kind: str, config: dict[str, Any], user: Any) -> None:
        assignment = ManagerAssignment.objects.filter(program=program, kind=kind).first()
        if assignment is None:
            return
        programs.manager_configure(
            assignment=assignment, config={**assignment.config, **config}, actor=user
        )


PROGRAM_ADAPTERS: tuple[type[ModelAdapter], ...] = (
    ProgramAdapter,
    ProgramMembershipAdapter,
    CycleAdapter,
    CycleMembershipAdapter,
    EntitlementAdapter,
    PaymentAdapter,
    PaymentBatchAdapter,
    FundAdapter,
    AssignProgramWizardAdapter,
    CreateProgramWizardAdapter,
)
