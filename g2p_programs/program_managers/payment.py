"""Payment managers: payments for approved entitlements, grouped in batches, and their sending.

Upstream ``g2p.program.payment.manager.default``. The workflow (permissions, cycle states,
locks, messages) lives in :mod:`g2p_programs.services.payments`; a manager supplies the
set-based work. Add-ons (files, cash, G2P Connect…) subclass :class:`DefaultPaymentManager`
and override :meth:`PaymentManager.send_payments` to really reach a bank.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pydantic
from django.core.exceptions import ValidationError
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, Value, When
from django.utils import timezone
from pydantic_core import PydanticCustomError

from g2p_programs.choices import EntitlementState, ManagerKind, PaymentState, PaymentStatus
from g2p_programs.models import Cycle, Entitlement, Payment, PaymentBatch, PaymentBatchTag
from g2p_programs.queries import payments as queries
from g2p_programs.registry import BaseManager, ManagerConfig, registry


@lru_cache(maxsize=1)
def entitlement_schema() -> Any:
    """Domain schema of entitlements for batch tags (upstream ``g2p.entitlement`` names).

    ``partner_id`` leads into the registrant schema (``('partner_id.gender', '=', 'Female')``).
    """
    from pbms.domains import REGISTRANT_SCHEMA, schema_from_model

    return schema_from_model(
        Entitlement,
        name="g2p.entitlement",
        odoo_names=True,
        rename={"registrant": "partner_id"},
        relations={"registrant": REGISTRANT_SCHEMA},
        exclude={"approved_by"},
        rec_name="code",
    )


def live_payment_exists() -> Exists:
    """An entitlement has a payment that has not failed (the partial unique index's rule)."""
    return Exists(
        Payment.objects.filter(entitlement=OuterRef("pk")).exclude(status=PaymentStatus.FAILED)
    )


class PaymentManager(BaseManager):
    """Contract of a payment manager.

    - ``prepare_payments(cycle)`` -> ``(payments created, batches created)`` for the cycle's
      approved entitlements without a live (not failed) payment; idempotent, fixed number of
      queries whatever the cycle size.
    - ``send_payments(cycle, batch_ids)`` -> ``(batches started, payments sent)``; sends the
      given batches (all of the cycle's when ``None``).

    Both take ``id_range=(after, upto)`` for a background job's keyset chunk: of payable
    entitlements for ``prepare_payments``, of :meth:`sendable_payments` for ``send_payments``.
    """

    kind = ManagerKind.PAYMENT

    def prepare_payments(
        self, cycle: Cycle, *, id_range: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        raise NotImplementedError

    def payable_entitlements(self, cycle: Cycle) -> Any:
        """Approved cash entitlements of the cycle without a live payment (lazy); in-kind
        entitlements (``is_cash_entitlement`` false) are distributed as goods, never paid."""
        return Entitlement.objects.filter(
            cycle=cycle, state=EntitlementState.APPROVED, is_cash_entitlement=True
        ).filter(~live_payment_exists())

    def sendable_payments(self, cycle: Cycle, batch_ids: list[int] | None = None) -> Any:
        """The cycle's issued payments that have not failed, of ``batch_ids`` when given
        (lazy): what :meth:`send_payments` sends."""
        payments = Payment.objects.filter(cycle=cycle, state=PaymentState.ISSUED).exclude(
            status=PaymentStatus.FAILED
        )
        if batch_ids is not None:
            payments = payments.filter(batch_id__in=batch_ids)
        return payments

    def send_payments(
        self,
        cycle: Cycle,
        batch_ids: list[int] | None = None,
        *,
        id_range: tuple[int, int] | None = None,
    ) -> tuple[int, int]:
        raise NotImplementedError


class DefaultPaymentConfig(ManagerConfig):
    create_batch: bool = pydantic.Field(
        default=False, description="Automatically create batches (upstream's checkbox)."
    )
    batch_tag_ids: list[int] = pydantic.Field(
        default_factory=list,
        description="Payment batch tags; each entitlement goes to the first whose domain matches.",
    )

    @pydantic.field_validator("batch_tag_ids")
    @classmethod
    def _tags(cls, value: list[int], info: pydantic.ValidationInfo) -> list[int]:
        value = list(dict.fromkeys(value))
        tags = list(PaymentBatchTag.objects.filter(pk__in=value).order_by("order", "pk"))
        missing = sorted(set(value) - {t.pk for t in tags})
        if missing:
            raise PydanticCustomError(
                "unknown_tag", "Unknown payment batch tags: {ids}.", {"ids": missing}
            )
        if info.data.get("create_batch"):
            if not tags:
                raise PydanticCustomError("batch_tags", "Batch Tags list cannot be empty.")
            if tags[-1].domain.strip() != "[]":
                raise PydanticCustomError(
                    "batch_tags", "Last tag in the Batch Tags list must contain empty domain."
                )
        return value


@registry.register
class DefaultPaymentManager(PaymentManager):
    """Payments for approved entitlements, split by batch tags into batches of at most the
    tag's size. Sending only marks batches started and payments sent: actual transfer to a
    bank, a file or G2P Connect comes with the payment add-ons."""

    key = "default"
    label = "Default"
    upstream_model = "g2p.program.payment.manager.default"
    Config = DefaultPaymentConfig
    config: DefaultPaymentConfig

    def batch_tags(self) -> list[PaymentBatchTag]:
        return list(
            PaymentBatchTag.objects.filter(pk__in=self.config.batch_tag_ids).order_by("order", "pk")
        )

    def tag_expression(self, tags: list[PaymentBatchTag]) -> Case:
        """``CASE WHEN <domain 1> THEN tag 1 WHEN <domain 2> …`` — the first matching tag."""
        from pbms.domains import DomainError, compile_domain

        whens = []
        for tag in tags:
            try:
                condition = compile_domain(tag.domain or "[]", schema=entitlement_schema())
            except DomainError as exc:
                raise ValidationError({"batch_tag_ids": f"Batch tag {tag.name!r}: {exc}"}) from exc
            # An empty domain is every record (When() refuses an empty Q).
            whens.append(When(condition or Q(pk__isnull=False), then=Value(tag.pk)))
        return Case(*whens, default=None, output_field=IntegerField())

    def prepare_payments(
        self, cycle: Cycle, *, id_range: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        """One ``INSERT … SELECT`` (see :func:`queries.insert_payments_and_batches`); with no
        batch tags nothing is created, as upstream. In a job's chunk (``id_range``) the open
        batches left by the previous chunk are filled first."""
        tags = self.batch_tags()
        if not tags:
            return 0, 0
        payable = self.payable_entitlements(cycle)
        if id_range is not None:
            payable = payable.filter(pk__gt=id_range[0], pk__lte=id_range[1])
        candidates = (
            payable.annotate(tag_id=self.tag_expression(tags))
            .order_by()
            .values("id", "registrant_id", "currency", "initial_amount", "transfer_fee", "tag_id")
        )
        return queries.insert_payments_and_batches(
            cycle_id=cycle.pk,
            candidates=candidates,
            create_batch=self.config.create_batch,
            fill_open_batches=id_range is not None,
        )

    def send_payments(
        self,
        cycle: Cycle,
        batch_ids: list[int] | None = None,
        *,
        id_range: tuple[int, int] | None = None,
    ) -> tuple[int, int]:
        """Mark the batches started and their issued payments sent (the batch ids, then two
        ``UPDATE``s).

        Without ``batch_ids``: every batch of the cycle, plus the cycle's payments that are in
        no batch (``create_batch`` off — upstream could never send those). With ``id_range``
        only the payments of that chunk and the batches holding them. Idempotent.
        """
        started, sent, _touched = self._send(cycle, batch_ids, id_range)
        return started, sent

    def _send(
        self, cycle: Cycle, batch_ids: list[int] | None, id_range: tuple[int, int] | None
    ) -> tuple[int, int, list[int]]:
        """:meth:`send_payments`, also returning the ids of the batches it concerned (all of
        the cycle's / of ``batch_ids``, or those holding a payment of the chunk), read once
        before the payments change state."""
        batches = PaymentBatch.objects.filter(cycle=cycle)
        payments = self.sendable_payments(cycle, batch_ids)
        if batch_ids is not None:
            batches = batches.filter(pk__in=batch_ids)
        if id_range is not None:
            payments = payments.filter(pk__gt=id_range[0], pk__lte=id_range[1])
            batches = batches.filter(pk__in=payments.values("batch_id"))
        touched = list(batches.order_by("pk").values_list("pk", flat=True))
        started = (
            PaymentBatch.objects.filter(pk__in=touched, batch_has_started=False).update(
                batch_has_started=True, stats_datetime=timezone.now()
            )
            if touched
            else 0
        )
        sent = payments.update(state=PaymentState.SENT)
        return started, sent, touched
