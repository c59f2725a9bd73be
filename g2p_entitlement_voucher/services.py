"""Vouchers: tokens, verification, atomic redemption, key rotation and printable cards.

Every function checks the actor's permission server-side (``actor=None`` is the system);
a refusal raises ``ValidationError`` / ``PermissionDenied`` and changes nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import segno
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from fpdf import FPDF

from g2p_entitlement_voucher import keys
from g2p_entitlement_voucher.choices import VoucherState
from g2p_entitlement_voucher.models import Voucher, VoucherDocument, VoucherKey
from g2p_programs import bulk
from g2p_programs.choices import EntitlementState
from g2p_programs.models import Cycle, Entitlement
from g2p_programs.results import Notification
from g2p_registry_base.services import Actor, require_perm

APP = "g2p_entitlement_voucher"
GENERATE_CARDS = bulk.Operation(
    key="g2p_voucher.cards",
    lock_reason="Generating voucher cards of the cycle.",
    done_message="Voucher cards ready.",
)
bulk.OPERATIONS[GENERATE_CARDS.key] = GENERATE_CARDS
CARDS_PER_PAGE = 8


# -- tokens --------------------------------------------------------------------------------


def voucher_claims(voucher: Voucher) -> dict[str, Any]:
    return {
        "code": voucher.code,
        "ent": voucher.entitlement_id,
        "sub": voucher.registrant_id,
        "prg": voucher.program_id,
        "amt": f"{voucher.amount:.2f}",
        "cur": voucher.currency,
        "nbf": voucher.valid_from.isoformat(),
        "exp": voucher.valid_until.isoformat(),
    }


def voucher_token(voucher: Voucher, signer: keys.Signer | None = None) -> str:
    """The compact JWS carried by the voucher's QR code (the same text every time)."""
    return (signer or keys.Signer()).sign(voucher_claims(voucher), voucher.kid)


# -- verification and redemption -----------------------------------------------------------


@dataclass
class Verification:
    """What a scan or an entered code shows: ``ok`` and, when not, the ``reason``; ``checks``
    gives the signature, validity and state verdicts one by one."""

    ok: bool
    reason: str
    voucher: Voucher | None = None
    checks: dict[str, str] = field(default_factory=dict)


def _lookup(text: str) -> tuple[Voucher | None, str, dict[str, str]]:
    """Find the voucher of a code or a token; (None, reason, checks) when it cannot be."""
    text = (text or "").strip()
    if not text:
        return None, _("Enter or scan a voucher."), {}
    if text.count(".") == 2:  # a compact JWS
        try:
            claims, kid = keys.token_verify(text)
        except keys.TokenError as exc:
            return None, str(exc), {"signature": str(exc)}
        voucher = (
            Voucher.objects.select_related("registrant", "program", "entitlement")
            .filter(code=str(claims.get("code", "")))
            .first()
        )
        if voucher is None or voucher.kid != kid or voucher_claims(voucher) != claims:
            reason = _("Forged voucher: it does not match any voucher issued.")
            return None, reason, {"signature": _("Good"), "record": reason}
        return voucher, "", {"signature": _("Good")}
    voucher = (
        Voucher.objects.select_related("registrant", "program", "entitlement")
        .filter(code=text.upper())
        .first()
    )
    if voucher is None:
        return None, _("No voucher has the code %s.") % text, {}
    return voucher, "", {"signature": _("Not presented (code entered)")}


def _refusal(voucher: Voucher, today: datetime.date) -> str:
    if voucher.state == VoucherState.REDEEMED:
        when = timezone.localtime(voucher.redeemed_at).strftime("%Y-%m-%d %H:%M")
        return _("This voucher was already redeemed on %s.") % when
    if voucher.state == VoucherState.CANCELLED:
        return _("This voucher has been cancelled.")
    if voucher.entitlement.state != EntitlementState.APPROVED:
        return _("The entitlement of this voucher is %s.") % voucher.entitlement.get_state_display()
    if today < voucher.valid_from:
        return _("This voucher is not valid before %s.") % voucher.valid_from.isoformat()
    if today > voucher.valid_until:
        return _("This voucher expired on %s.") % voucher.valid_until.isoformat()
    return ""


def voucher_verify(*, text: str, actor: Actor, today: datetime.date | None = None) -> Verification:
    """Check a scanned token or an entered code: signature, validity period, voucher and
    entitlement state. Reads only."""
    require_perm(actor, f"{APP}.redeem_voucher")
    today = today or timezone.localdate()
    voucher, reason, checks = _lookup(text)
    if voucher is None:
        return Verification(ok=False, reason=reason, checks=checks)
    refusal = _refusal(voucher, today)
    checks["validity"] = _("Valid from %(start)s to %(end)s") % {
        "start": voucher.valid_from.isoformat(),
        "end": voucher.valid_until.isoformat(),
    }
    checks["state"] = voucher.get_state_display()
    return Verification(ok=not refusal, reason=refusal, voucher=voucher, checks=checks)


def voucher_redeem(
    *, text: str, actor: Actor, reference: str = "", today: datetime.date | None = None
) -> Voucher:
    """Redeem the voucher of a token or code for ``actor`` (a service provider).

    Atomic: one conditional ``UPDATE … WHERE state = 'issued' AND <valid today>`` on the voucher
    row, under a share lock of its entitlement; of two simultaneous redemptions exactly one
    succeeds. A redeemed, cancelled, expired, not yet valid or forged voucher is refused with
    ``ValidationError`` giving the reason, and nothing changes."""
    require_perm(actor, f"{APP}.redeem_voucher")
    today = today or timezone.localdate()
    reference = (reference or "").strip()[:128]
    with transaction.atomic():
        voucher, reason, _checks = _lookup(text)
        if voucher is None:
            raise ValidationError({"voucher": reason})
        # The entitlement cannot be cancelled while this redemption runs.
        voucher.entitlement = Entitlement.objects.select_for_update(no_key=True).get(
            pk=voucher.entitlement_id
        )
        refusal = _refusal(voucher, today)
        if refusal:
            raise ValidationError({"voucher": refusal})
        now = timezone.now()
        done = Voucher.objects.filter(
            pk=voucher.pk,
            state=VoucherState.ISSUED,
            valid_from__lte=today,
            valid_until__gte=today,
        ).update(
            state=VoucherState.REDEEMED,
            redeemed_at=now,
            redeemed_by_id=getattr(actor, "pk", None),
            redemption_reference=reference,
        )
        if not done:  # redeemed meanwhile by another request
            voucher.refresh_from_db()
            raise ValidationError({"voucher": _refusal(voucher, today) or _("Not redeemed.")})
        voucher.refresh_from_db()
        return voucher


# -- keys ----------------------------------------------------------------------------------


def voucher_keys_rotate(*, actor: Actor) -> VoucherKey:
    """A new signing key; the previous one keeps verifying the vouchers it signed."""
    require_perm(actor, f"{APP}.add_voucherkey")
    return keys.key_create(activate=True)


def voucher_key_retire(*, key: VoucherKey, actor: Actor) -> VoucherKey:
    """Vouchers signed with ``key`` no longer verify (e.g. a leaked key)."""
    require_perm(actor, f"{APP}.change_voucherkey")
    try:
        return keys.key_retire(key=key)
    except ValueError as exc:
        raise ValidationError({"state": str(exc)}) from exc


# -- cards ---------------------------------------------------------------------------------


def _qr_png(token: str) -> io.BytesIO:
    buffer = io.BytesIO()
    segno.make(token, error="m").save(buffer, kind="png", scale=4, border=2)
    buffer.seek(0)
    return buffer


def cards_pdf(vouchers: QuerySet[Voucher] | list[Voucher]) -> bytes:
    """A4 pages of voucher cards (2 × 4 per page): program, beneficiary, code, amount, validity
    and the QR code of the signed token."""
    signer = keys.Signer()
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_font("helvetica", size=9)
    width, height = 95.0, 68.0
    for i, voucher in enumerate(vouchers):
        if i % CARDS_PER_PAGE == 0:
            pdf.add_page()
        col, row = i % 2, (i % CARDS_PER_PAGE) // 2
        x, y = 10 + col * width, 10 + row * height
        pdf.rect(x, y, width - 4, height - 4)
        pdf.image(_qr_png(voucher_token(voucher, signer)), x=x + 2, y=y + 2, w=38)
        pdf.set_xy(x + 42, y + 4)
        pdf.set_font("helvetica", style="B", size=10)
        pdf.multi_cell(width - 48, 5, _latin(voucher.program.name))
        pdf.set_font("helvetica", size=9)
        lines = [
            _latin(voucher.registrant.name),
            f"Code: {voucher.code}",
            f"Amount: {voucher.amount:,.2f} {voucher.currency}",
            f"Valid: {voucher.valid_from:%Y-%m-%d} to {voucher.valid_until:%Y-%m-%d}",
        ]
        for line in lines:
            pdf.set_x(x + 42)
            pdf.multi_cell(width - 48, 5, line)
    return bytes(pdf.output())


def _latin(text: str) -> str:
    """The core PDF fonts cover Latin-1 only; other characters print as '?'."""
    return (text or "").encode("latin-1", "replace").decode("latin-1")


def voucher_card_pdf(*, voucher: Voucher, actor: Actor) -> bytes:
    require_perm(actor, f"{APP}.view_voucher")
    return cards_pdf([voucher])


def _cycle_vouchers(cycle: Cycle) -> QuerySet[Voucher]:
    return (
        Voucher.objects.filter(cycle=cycle)
        .exclude(state=VoucherState.CANCELLED)
        .select_related("registrant", "program")
        .order_by("pk")
    )


def _write_part(cycle: Cycle, id_range: tuple[int, int]) -> VoucherDocument | None:
    vouchers = list(_cycle_vouchers(cycle).filter(pk__gt=id_range[0], pk__lte=id_range[1]))
    if not vouchers:
        return None
    content = cards_pdf(vouchers)
    part = VoucherDocument.objects.filter(cycle=cycle).count() + 1
    return VoucherDocument.objects.create(
        cycle=cycle,
        part=part,
        first_id=vouchers[0].pk,
        last_id=vouchers[-1].pk,
        cards=len(vouchers),
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def cycle_cards_generate(*, cycle: Cycle, actor: Actor) -> Notification:
    """The cycle's printable cards, replacing earlier documents: inline up to
    ``G2P_MAX_ROWS_INLINE`` vouchers (one document), else a background job writing one part
    per chunk while the cycle is locked."""
    require_perm(actor, f"{APP}.add_voucherdocument")
    with transaction.atomic():
        locked = Cycle.objects.select_for_update().get(pk=cycle.pk)
        if locked.locked:
            raise ValidationError({"cycle": _("Operation in progress: %s") % locked.locked_reason})
        total = _cycle_vouchers(locked).count()
        if not total:
            raise ValidationError({"cycle": _("This cycle has no vouchers to print.")})
        VoucherDocument.objects.filter(cycle=locked).delete()
        queued = bulk.queue_if_large(
            operation=GENERATE_CARDS,
            holder=locked,
            total=total,
            actor=actor,
            title=_("Voucher"),
            message=_("Started generating %d voucher cards.") % total,
        )
        if queued:
            return queued
        _write_part(locked, (0, 2**63 - 1))
    return Notification(
        title=_("Voucher"), message=_("%d voucher cards ready.") % total, type="success"
    )


@bulk.planner(GENERATE_CARDS)
def _plan_cards(cycle: Cycle) -> bulk.Plan:
    def chunk(id_range: tuple[int, int]) -> None:
        # A redelivered chunk finds its part already written.
        if not VoucherDocument.objects.filter(
            cycle=cycle, first_id__gt=id_range[0], last_id__lte=id_range[1]
        ).exists():
            _write_part(cycle, id_range)

    return bulk.Plan(rows=lambda: _cycle_vouchers(cycle), chunk=chunk)
