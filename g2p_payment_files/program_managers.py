"""The file payment manager (upstream ``g2p.program.payment.manager.file``).

Payments are prepared as by the default manager, but always in batches: with no batch tag
configured they go to untagged batches of ``max_batch_size``. Sending marks batches started and
payments sent (the default manager's two ``UPDATE``s), then writes one file per (batch, file
configuration) for every batch this call *completed* — a batch none of whose payments is still
waiting to be sent. Why there: the background path sends a large cycle in keyset chunks of
payments, and a batch can span chunks; writing its file in the chunk that sends its last
payment means each batch is written exactly once, from complete data, inside the transaction
that sent it (a retried chunk rolls back its files with its state changes, and the unique
(batch, configuration) constraint skips files already written). Upstream wrote files at
preparation and raised NotImplementedError on sending.
"""

from __future__ import annotations

from typing import Any

import pydantic
from django.db.models import Exists, OuterRef
from pydantic_core import PydanticCustomError

from g2p_payment_files.models import PaymentFile, PaymentFileConfig
from g2p_payment_files.queries import insert_untagged_payments_and_batches
from g2p_programs.models import Cycle, PaymentBatch, PaymentBatchTag
from g2p_programs.program_managers.payment import DefaultPaymentManager
from g2p_programs.queries import payments as program_queries
from g2p_programs.registry import ManagerConfig, registry


class FilePaymentConfig(ManagerConfig):
    batch_tag_ids: list[int] = pydantic.Field(
        default_factory=list,
        description=(
            "Payment batch tags; each entitlement goes to the first whose domain matches. "
            "Empty: every payment, in untagged batches of max_batch_size."
        ),
    )
    max_batch_size: int = pydantic.Field(
        default=500, ge=1, description="Batch size when no batch tag is configured."
    )
    file_config_ids: list[int] = pydantic.Field(
        default_factory=list, description="Payment file configurations written for each batch."
    )

    @pydantic.field_validator("batch_tag_ids")
    @classmethod
    def _tags(cls, value: list[int]) -> list[int]:
        value = list(dict.fromkeys(value))
        found = set(PaymentBatchTag.objects.filter(pk__in=value).values_list("pk", flat=True))
        missing = sorted(set(value) - found)
        if missing:
            raise PydanticCustomError(
                "unknown_tag", "Unknown payment batch tags: {ids}.", {"ids": missing}
            )
        return value

    @pydantic.field_validator("file_config_ids")
    @classmethod
    def _file_configs(cls, value: list[int]) -> list[int]:
        value = list(dict.fromkeys(value))
        found = set(PaymentFileConfig.objects.filter(pk__in=value).values_list("pk", flat=True))
        missing = sorted(set(value) - found)
        if missing:
            raise PydanticCustomError(
                "unknown_file_config",
                "Unknown payment file configurations: {ids}.",
                {"ids": missing},
            )
        return value


@registry.register
class FilePaymentManager(DefaultPaymentManager):
    """Payments in batches, each sent batch written to one file per file configuration."""

    key = "file"
    label = "File Payment Manager"
    upstream_model = "g2p.program.payment.manager.file"
    Config = FilePaymentConfig  # type: ignore[assignment]
    config: FilePaymentConfig  # type: ignore[assignment]

    def prepare_payments(
        self, cycle: Cycle, *, id_range: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        """One ``INSERT … SELECT`` of payments and batches (tagged as the default manager, or
        untagged batches of ``max_batch_size``); idempotent."""
        payable = self.payable_entitlements(cycle)
        if id_range is not None:
            payable = payable.filter(pk__gt=id_range[0], pk__lte=id_range[1])
        columns = ("id", "registrant_id", "currency", "initial_amount", "transfer_fee")
        tags = self.batch_tags()
        if tags:
            candidates = (
                payable.annotate(tag_id=self.tag_expression(tags))
                .order_by()
                .values(*columns, "tag_id")
            )
            return program_queries.insert_payments_and_batches(
                cycle_id=cycle.pk,
                candidates=candidates,
                create_batch=True,
                fill_open_batches=id_range is not None,
            )
        return insert_untagged_payments_and_batches(
            cycle_id=cycle.pk,
            candidates=payable.order_by().values(*columns),
            max_batch_size=self.config.max_batch_size,
            fill_open_batch=id_range is not None,
        )

    def file_configs(self) -> list[PaymentFileConfig]:
        return list(
            PaymentFileConfig.objects.filter(pk__in=self.config.file_config_ids).order_by("pk")
        )

    def send_payments(
        self,
        cycle: Cycle,
        batch_ids: list[int] | None = None,
        *,
        id_range: tuple[int, int] | None = None,
    ) -> tuple[int, int]:
        """Send as the default manager, then write the files of the batches completed.

        Batches considered: those of ``batch_ids`` (all of the cycle's when None) and, with
        ``id_range``, only those holding a payment of the chunk. Queries: the default
        manager's three, one for the file configurations, one for the completed batches lacking
        a file, then per such batch one streamed ``SELECT`` and one ``INSERT`` per
        configuration — independent of the number of payments.
        """
        from g2p_payment_files.services import payment_file_write

        started, sent, touched = self._send(cycle, batch_ids, id_range)
        configs = self.file_configs()
        if not configs or not touched:
            return started, sent
        waiting = self.sendable_payments(cycle).filter(batch_id=OuterRef("pk"))
        complete = (
            PaymentBatch.objects.filter(pk__in=touched, batch_has_started=True)
            .filter(~Exists(waiting))
            .order_by("pk")
        )
        written = {
            (b, c)
            for b, c in PaymentFile.objects.filter(batch__in=touched).values_list(
                "batch_id", "config_id"
            )
        }
        for batch in complete:
            for config in configs:
                if (batch.pk, config.pk) not in written:
                    payment_file_write(batch=batch, config=config)
        return started, sent


def load() -> Any:
    """Import this module so its manager registers (``AppConfig.ready``)."""
    return FilePaymentManager
