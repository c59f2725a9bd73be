"""Two service providers redeeming the same voucher at the same moment: exactly one wins."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from g2p_entitlement_voucher import services
from g2p_entitlement_voucher.choices import VoucherState
from g2p_entitlement_voucher.models import Voucher
from g2p_entitlement_voucher.tests.conftest import voucher_cycle


@pytest.mark.django_db(transaction=True)
def test_simultaneous_redemptions_one_succeeds(settings) -> None:  # type: ignore[no-untyped-def]
    settings.G2P_MAX_ROWS_INLINE = 10_000
    voucher = Voucher.objects.filter(cycle=voucher_cycle(1)).get()
    token = services.voucher_token(voucher)
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def redeem(reference: str) -> None:
        try:
            barrier.wait()
            services.voucher_redeem(text=token, actor=None, reference=reference)
            result = f"ok:{reference}"
        except ValidationError as exc:
            result = exc.message_dict["voucher"][0]
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=redeem, args=(f"till {i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2
    wins = [o for o in outcomes if o.startswith("ok:")]
    losses = [o for o in outcomes if not o.startswith("ok:")]
    assert len(wins) == 1
    assert losses[0].startswith("This voucher was already redeemed on ")
    voucher.refresh_from_db()
    assert voucher.state == VoucherState.REDEEMED
    assert voucher.redemption_reference == wins[0].removeprefix("ok:")
