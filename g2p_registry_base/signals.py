"""Signals other apps subscribe to instead of patching the registry's services.

``registrants_changed`` is sent by every registry write that changes what a registrant *is* —
its own fields and additional information, its disabled state, its group memberships — inside
the writing transaction, once per call, with ``registrant_ids`` (a list of ids; for a
membership, the member's id). Receivers run in that transaction: what they write commits or
rolls back with the change itself. Add-ons such as the proxy means test keep derived data
(scores) current this way. Identifiers and phone numbers do not send it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.dispatch import Signal

registrants_changed = Signal()


def send_registrants_changed(registrant_ids: Iterable[int | None]) -> None:
    ids = sorted({int(i) for i in registrant_ids if i is not None})
    if ids:
        from g2p_registry_base.models import Registrant

        registrants_changed.send(sender=Registrant, registrant_ids=ids)
