"""``g2p g2p_voucher_rotate_key``: make a new voucher signing key active."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from g2p_entitlement_voucher.services import voucher_keys_rotate


class Command(BaseCommand):
    help = "Create a new voucher signing key; earlier keys keep verifying their vouchers."

    def handle(self, *args: Any, **options: Any) -> None:
        key = voucher_keys_rotate(actor=None)
        self.stdout.write(f"New signing key {key.kid} is active.")
