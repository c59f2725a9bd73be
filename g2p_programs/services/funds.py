"""Program funds: money allocated to a program, and the balance entitlements are approved against.

Upstream ``g2p.program.fund``. A fund is created in draft, then posted (it counts toward the
balance from then on and gets the next reference ``PF-<year>-<6 digits>``), or cancelled and
reset to draft. Refusals raise ``ValidationError`` with upstream's message and change nothing.

References are gapless and never reused: posting increments the year's
:class:`~g2p_programs.models.FundSequence` row with one ``INSERT … ON CONFLICT DO UPDATE …
RETURNING``, which holds that row's lock until the transaction ends, so concurrent posts queue
behind each other and a rolled-back post gives its number back with the rest of its work.

The balance (:func:`program_fund_balance`) is posted funds minus committed entitlement amounts
(approved, plus trans2FSP / rdpd2ben and anything already paid — upstream counted approved
only); it is one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    CharField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Value,
)
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from g2p_programs.choices import FUND_DRAFT_NAME, FundState, PaymentStatus
from g2p_programs.models import Entitlement, FundSequence, Payment, Program, ProgramFund
from g2p_programs.queries import entitlements as queries
from g2p_programs.results import Notification
from g2p_registry_base.services import Actor, require_perm

PERM_POST = "g2p_programs.post_fund"


def fund_create(
    *, program: Program, amount: Decimal, actor: Actor, remarks: str = ""
) -> ProgramFund:
    """A draft fund entry of ``amount`` (> 0) in the program's currency."""
    require_perm(actor, "g2p_programs.add_programfund")
    fund = ProgramFund(
        program=program,
        company_id=program.company_id,
        amount=amount,
        currency=program.currency,
        remarks=remarks,
    )
    fund.save()
    return fund


def _locked(fund: ProgramFund) -> ProgramFund:
    return ProgramFund.objects.select_for_update().get(pk=fund.pk)


def _sync(instance: ProgramFund, fresh: ProgramFund) -> ProgramFund:
    for name in ("name", "state", "date_posted"):
        setattr(instance, name, getattr(fresh, name))
    return instance


def next_fund_reference(*, year: int) -> str:
    """Take the next ``PF-<year>-NNNNNN`` number (one statement; locks the year's row)."""
    table = FundSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {connection.ops.quote_name(table)} AS s (year, last_number)
                VALUES (%s, 1)
                ON CONFLICT (year) DO UPDATE SET last_number = s.last_number + 1
                RETURNING s.last_number""",  # noqa: S608 - table name from the model
            [year],
        )
        (number,) = cursor.fetchone()
    return f"PF-{year}-{number:06d}"


def fund_post(*, fund: ProgramFund, actor: Actor) -> Notification:
    """draft -> posted: dated today, numbered from the year's sequence. Three queries."""
    require_perm(actor, PERM_POST)
    with transaction.atomic():
        locked = _locked(fund)
        if locked.state != FundState.DRAFT:
            raise ValidationError(_("Only draft program funds can be posted."))
        today = timezone.localdate()
        if locked.name == FUND_DRAFT_NAME:
            locked.name = next_fund_reference(year=today.year)
        locked.state = FundState.POSTED
        locked.date_posted = today
        ProgramFund.objects.filter(pk=locked.pk).update(
            name=locked.name, state=locked.state, date_posted=today
        )
    _sync(fund, locked)
    return Notification(
        title=_("Program Fund"),
        message=_("This fund is now posted!"),
        data={"reference": locked.name},
    )


def fund_cancel(*, fund: ProgramFund, actor: Actor) -> Notification:
    """draft -> cancelled."""
    require_perm(actor, PERM_POST)
    with transaction.atomic():
        locked = _locked(fund)
        if locked.state != FundState.DRAFT:
            raise ValidationError(_("Only draft program funds can be cancelled."))
        locked.state = FundState.CANCELLED
        ProgramFund.objects.filter(pk=locked.pk).update(state=locked.state)
    _sync(fund, locked)
    return Notification(title=_("Program Fund"), message=_("The fund is cancelled."))


def fund_reset_draft(*, fund: ProgramFund, actor: Actor) -> Notification:
    """cancelled -> draft."""
    require_perm(actor, PERM_POST)
    with transaction.atomic():
        locked = _locked(fund)
        if locked.state != FundState.CANCELLED:
            raise ValidationError(_("Only cancelled program funds can be reset to draft."))
        locked.state = FundState.DRAFT
        ProgramFund.objects.filter(pk=locked.pk).update(state=locked.state)
    _sync(fund, locked)
    return Notification(title=_("Program Fund"), message=_("The fund is reset to draft."))


def fund_delete(*, fund: ProgramFund, actor: Actor) -> None:
    """Delete a fund that was never posted."""
    require_perm(actor, "g2p_programs.delete_programfund")
    with transaction.atomic():
        locked = _locked(fund)
        if locked.state == FundState.POSTED:
            raise ValidationError(_("This fund is already posted and cannot be deleted."))
        locked.delete()


# ------------------------------------------------------------------------------------------
# Reads
# ------------------------------------------------------------------------------------------


def program_fund_balance(*, program: Program | int) -> Decimal:
    """Posted funds minus committed entitlement amounts of the program. One query, no lock.

    To approve against it, lock the program row first (see
    :func:`g2p_programs.services.entitlements.entitlements_approve`).
    """
    program_id = program if isinstance(program, int) else program.pk
    posted, committed = queries.select_program_fund_balance(program_id=program_id)
    return posted - committed


@dataclass(frozen=True)
class FundReport:
    """A program's fund position and its ledger (upstream ``g2p.program.fund.report.view``)."""

    program_id: int
    posted_total: Decimal
    approved_total: Decimal
    balance: Decimal
    lines: Any  # lazy queryset of dicts: date, reference, kind, partner_id, cycle_ref, value


def fund_ledger_lines(*, program: Program | int) -> Any:
    """Posted funds (+amount, date posted) and spent entitlements (−amount, date approved)
    of a program, ordered by date then reference: a lazy ``UNION ALL`` queryset of dicts."""
    program_id = program if isinstance(program, int) else program.pk
    money = DecimalField(max_digits=16, decimal_places=2)
    ref = BigIntegerField()
    funds = ProgramFund.objects.filter(program_id=program_id, state=FundState.POSTED).values(
        date=F("date_posted"),
        reference=F("name"),
        kind=Value("fund", output_field=CharField()),
        partner_id=Cast(Value(None), output_field=ref),
        cycle_ref=Cast(Value(None), output_field=ref),
        value=F("amount"),
    )
    paid = Payment.objects.filter(entitlement=OuterRef("pk"), status=PaymentStatus.PAID)
    spent = Entitlement.objects.filter(
        Q(state__in=queries.COMMITTED_STATES) | Exists(paid), program_id=program_id
    ).values(
        date=F("date_approved"),
        reference=F("code"),
        kind=Value("entitlement", output_field=CharField()),
        partner_id=F("registrant_id"),
        cycle_ref=F("cycle_id"),
        value=ExpressionWrapper(-F("initial_amount"), output_field=money),
    )
    return funds.union(spent, all=True).order_by("date", "reference")


def fund_report(*, program: Program) -> FundReport:
    """Totals (one query) and the lazy ledger of one program."""
    posted, committed = queries.select_program_fund_balance(program_id=program.pk)
    return FundReport(
        program_id=program.pk,
        posted_total=posted,
        approved_total=committed,
        balance=posted - committed,
        lines=fund_ledger_lines(program=program),
    )


__all__ = [
    "FundReport",
    "fund_cancel",
    "fund_create",
    "fund_delete",
    "fund_ledger_lines",
    "fund_post",
    "fund_report",
    "fund_reset_draft",
    "next_fund_reference",
    "program_fund_balance",
]
