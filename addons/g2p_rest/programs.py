"""``/api/v1/programs`` and a registrant's program records (read only), paginated.

Each list is one count and one page query. Access needs the program roles' view rights.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from ninja import Query, Router

from addons.g2p_rest import schemas
from addons.g2p_rest.errors import NOT_FOUND
from addons.g2p_rest.pages import LIMIT, OFFSET, PK, page
from addons.g2p_rest.registry import ERRORS, NAME_Q
from g2p_programs.choices import ProgramState, TargetType
from g2p_programs.models import Entitlement, Payment, Program, ProgramMembership
from g2p_registry_base.models import Registrant
from g2p_registry_base.services import require_perm

programs_router = Router(tags=["programs"])
registrants_router = Router(tags=["programs"])

APP = "g2p_programs"
STATE_Q = Query(None)
TARGET_Q = Query(None)


def program_out(p: Program) -> dict[str, Any]:
    return {
        "id": p.pk,
        "name": p.name,
        "description": p.description,
        "target_type": p.target_type,
        "state": p.state,
        "currency": p.currency,
        "active": p.active,
        "date_ended": p.date_ended,
        "create_date": p.create_date,
        "write_date": p.write_date,
    }


def membership_out(m: ProgramMembership) -> dict[str, Any]:
    return {
        "id": m.pk,
        "program_id": m.program_id,
        "program": m.program.name,
        "state": m.state,
        "enrollment_date": m.enrollment_date,
        "exit_date": m.exit_date,
    }


def entitlement_out(e: Entitlement) -> dict[str, Any]:
    return {
        "id": e.pk,
        "code": e.code,
        "program_id": e.program_id,
        "cycle_id": e.cycle_id,
        "cycle": e.cycle.name,
        "is_cash_entitlement": e.is_cash_entitlement,
        "currency": e.currency,
        "initial_amount": str(e.initial_amount),
        "transfer_fee": str(e.transfer_fee),
        "valid_from": e.valid_from,
        "valid_until": e.valid_until,
        "state": e.state,
        "date_approved": e.date_approved,
    }


def payment_out(p: Payment) -> dict[str, Any]:
    return {
        "id": p.pk,
        "name": p.name,
        "entitlement_id": p.entitlement_id,
        "cycle_id": p.cycle_id,
        "state": p.state,
        "status": p.status or None,
        "currency": p.currency,
        "amount_issued": str(p.amount_issued),
        "amount_paid": None if p.amount_paid is None else str(p.amount_paid),
        "payment_fee": str(p.payment_fee),
        "issuance_date": p.issuance_date,
        "payment_datetime": p.payment_datetime,
    }


@programs_router.get("", response={200: schemas.ProgramPage, **ERRORS}, summary="List programs")
def program_list(
    request: HttpRequest,
    state: ProgramState | None = STATE_Q,
    target_type: TargetType | None = TARGET_Q,
    name: schemas.Text | None = NAME_Q,
    limit: int = LIMIT,
    offset: int = OFFSET,
) -> Any:
    require_perm(request.user, f"{APP}.view_program")
    qs = Program.objects.order_by("pk")
    if state:
        qs = qs.filter(state=state)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if name:
        qs = qs.filter(name__icontains=name)
    return page(qs, limit=limit, offset=offset, render=program_out)


@programs_router.get(
    "/{program_id}", response={200: schemas.ProgramOut, **ERRORS}, summary="Get a program"
)
def program_get(request: HttpRequest, program_id: int = PK) -> Any:
    require_perm(request.user, f"{APP}.view_program")
    program = Program.objects.filter(pk=program_id).first()
    if program is None:
        raise Http404(NOT_FOUND)
    return program_out(program)


def _registrant_id(registrant_id: int) -> int:
    if not Registrant.objects.registrants().filter(pk=registrant_id).exists():
        raise Http404(NOT_FOUND)
    return registrant_id


@registrants_router.get(
    "/{registrant_id}/program_memberships",
    response={200: schemas.ProgramMembershipPage, **ERRORS},
    summary="A registrant's program memberships",
)
def registrant_program_memberships(
    request: HttpRequest, registrant_id: int = PK, limit: int = LIMIT, offset: int = OFFSET
) -> Any:
    require_perm(request.user, f"{APP}.view_programmembership")
    qs = (
        ProgramMembership.objects.filter(registrant_id=_registrant_id(registrant_id))
        .select_related("program")
        .order_by("pk")
    )
    return page(qs, limit=limit, offset=offset, render=membership_out)


@registrants_router.get(
    "/{registrant_id}/entitlements",
    response={200: schemas.EntitlementPage, **ERRORS},
    summary="A registrant's entitlements",
)
def registrant_entitlements(
    request: HttpRequest, registrant_id: int = PK, limit: int = LIMIT, offset: int = OFFSET
) -> Any:
    require_perm(request.user, f"{APP}.view_entitlement")
    qs = (
        Entitlement.objects.filter(registrant_id=_registrant_id(registrant_id))
        .select_related("cycle")
        .order_by("pk")
    )
    return page(qs, limit=limit, offset=offset, render=entitlement_out)


@registrants_router.get(
    "/{registrant_id}/payments",
    response={200: schemas.PaymentPage, **ERRORS},
    summary="A registrant's payments",
)
def registrant_payments(
    request: HttpRequest, registrant_id: int = PK, limit: int = LIMIT, offset: int = OFFSET
) -> Any:
    require_perm(request.user, f"{APP}.view_payment")
    qs = Payment.objects.filter(entitlement__registrant_id=_registrant_id(registrant_id)).order_by(
        "pk"
    )
    return page(qs, limit=limit, offset=offset, render=payment_out)
