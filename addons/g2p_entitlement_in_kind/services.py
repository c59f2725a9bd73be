"""Writes of in-kind entitlements: recording what was handed out, item by item."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from addons.g2p_entitlement_in_kind.models import EntitlementItemLine
from g2p_programs.choices import EntitlementState
from g2p_programs.models import Entitlement
from g2p_registry_base.services import Actor, require_perm


def _quantity(product: str, value: Any) -> Decimal:
    try:
        quantity = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({product: _("%r is not a quantity.") % (value,)}) from None
    if not quantity.is_finite() or quantity <= 0:
        raise ValidationError({product: _("The quantity distributed must be more than 0.")})
    return quantity


def entitlement_items_distribute(
    *, entitlement: Entitlement, quantities: Mapping[str, Any], actor: Actor
) -> list[EntitlementItemLine]:
    """Record ``quantities`` (product -> quantity handed out now) on an approved entitlement.

    All or nothing: the entitlement and its lines are locked (``SELECT … FOR UPDATE``), every
    product is checked first, and a product not on the entitlement, a quantity that is not
    positive, or more than remains owed raises ``ValidationError`` naming the product (e.g.
    "Rice: 12 kg asked but only 10 kg of 10 kg remain.") and nothing is written. The check
    constraint ``inkind_line_distributed_within_quantity`` backs this up in the database.
    Queries: two locks, then one ``UPDATE`` per product given (not per beneficiary).
    """
    require_perm(actor, "g2p_entitlement_in_kind.distribute_items")
    if not quantities:
        raise ValidationError(_("Give at least one product and the quantity distributed."))
    with transaction.atomic():
        locked = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
        if locked.state != EntitlementState.APPROVED:
            raise ValidationError(_("Goods can only be distributed for an approved entitlement."))
        lines = {
            line.product: line
            for line in EntitlementItemLine.objects.select_for_update().filter(entitlement=locked)
        }
        asked = {product: _quantity(product, value) for product, value in quantities.items()}
        errors: dict[str, str] = {}
        for product, quantity in asked.items():
            line = lines.get(product)
            if line is None:
                errors[product] = _("%(product)s is not an item of entitlement %(code)s.") % {
                    "product": product,
                    "code": locked.code,
                }
                continue
            remaining = line.quantity - line.quantity_distributed
            if quantity > remaining:
                errors[product] = _(
                    "%(product)s: %(asked)s %(unit)s asked but only %(left)s %(unit)s of "
                    "%(total)s %(unit)s remain."
                ) % {
                    "product": product,
                    "asked": _n(quantity),
                    "left": _n(remaining),
                    "total": _n(line.quantity),
                    "unit": line.unit,
                }
        if errors:
            raise ValidationError(errors)
        now = timezone.now()
        changed = []
        for product, quantity in asked.items():
            line = lines[product]
            line.quantity_distributed += quantity
            line.distributed_at = now
            line.distributed_by_id = getattr(actor, "pk", None)
            line.save(update_fields=["quantity_distributed", "distributed_at", "distributed_by"])
            changed.append(line)
    return changed


def _n(value: Decimal) -> str:
    """``10.000`` -> ``10``, ``2.500`` -> ``2.5``."""
    text = format(value.normalize(), "f")
    return text
