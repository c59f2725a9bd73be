"""In-kind entitlements: the goods each entitlement lists, and how much of each was handed out.

Upstream keeps in-kind entitlements in their own model (OpenSPP ``g2p.entitlement.inkind``, one
row per product); here an in-kind entitlement is an ordinary
:class:`~g2p_programs.models.Entitlement` with ``is_cash_entitlement = False`` and amount 0, and
its goods are :class:`EntitlementItemLine` rows, so cycles, approval and cancellation work the
same for cash and goods.
"""

from __future__ import annotations

import pghistory
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from g2p_programs.models import Entitlement
from g2p_registry_base.models import audit_trackers


@pghistory.track(*audit_trackers())
class EntitlementItemLine(models.Model):
    """One product of an in-kind entitlement: the quantity owed and the quantity handed out.

    Created set-based with the entitlements (:mod:`addons.g2p_entitlement_in_kind.queries`);
    ``quantity_distributed`` only grows through
    :func:`addons.g2p_entitlement_in_kind.services.entitlement_items_distribute`, and the
    database refuses more than ``quantity``.
    """

    # The database deletes the lines with their entitlement (``ON DELETE CASCADE``, migration
    # 0002): the ORM then issues no extra query per deletion, so deleting entitlements stays
    # the fixed number of queries the programs app promises.
    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.DO_NOTHING, related_name="item_lines"
    )
    product = models.CharField(_("product"), max_length=255)
    unit = models.CharField(_("unit"), max_length=64)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    quantity_distributed = models.DecimalField(
        _("quantity distributed"), default=0, max_digits=14, decimal_places=3
    )
    distributed_at = models.DateTimeField(_("last distributed on"), null=True, blank=True)
    distributed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["entitlement", "pk"]
        verbose_name = _("entitlement item")
        permissions = [("distribute_items", _("Can record in-kind distributions"))]
        constraints = [
            models.UniqueConstraint(
                fields=["entitlement", "product"], name="inkind_line_unique_product"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=0)
                & Q(quantity_distributed__gte=0)
                & Q(quantity_distributed__lte=F("quantity")),
                name="inkind_line_distributed_within_quantity",
                violation_error_message=_("More cannot be distributed than is entitled."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product}: {self.quantity} {self.unit}"

    @property
    def quantity_remaining(self) -> object:
        return self.quantity - self.quantity_distributed
