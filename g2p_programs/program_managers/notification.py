"""Notification managers: tell someone when a program step happened (upstream
``g2p.program.notification.manager.*``). Every active one of a program runs.

Services call :func:`notify` after the step committed its rows (same transaction). Payloads
are QUERYSETS (or counts), never lists of ids loaded into Python, so a hook over a million
beneficiaries stays one query — an SMS / e-mail add-on enqueues a job that iterates the
queryset in keyset chunks.

Core ships :class:`LogNotificationManager` (key ``"log"``), which records each event (who,
what, how many) to the ``pbms.notifications`` logger. SMS and e-mail providers (upstream's
``g2p_notifications_*``) come as add-on apps registering their own classes.
"""

from __future__ import annotations

import logging
from typing import Any

import pydantic
from django.db.models import QuerySet

from g2p_programs.choices import ManagerKind
from g2p_programs.registry import BaseManager, ManagerConfig, registry

EVENTS = ("enrolled", "cycle_approved", "entitlements_approved", "payments_sent")

logger = logging.getLogger("pbms.notifications")


class NotificationManager(BaseManager):
    """Contract of a notification manager: one hook per event, all no-ops by default.

    - ``on_enrolled(program, membership_ids)``: memberships enrolled now.
    - ``on_cycle_approved(cycle)``.
    - ``on_entitlements_approved(cycle, entitlement_ids)``.
    - ``on_payments_sent(cycle, payment_ids)``.

    ``*_ids`` are querysets (of the records or of their ids) or plain counts. Hooks run inside
    the caller's transaction: they must not call out of the process directly — enqueue a job.
    Every hook also receives ``actor`` (the user, or None for the system).
    """

    kind = ManagerKind.NOTIFICATION

    def on_enrolled(self, *, program: Any, membership_ids: Any, actor: Any = None) -> None:
        return None

    def on_cycle_approved(self, *, cycle: Any, actor: Any = None) -> None:
        return None

    def on_entitlements_approved(
        self, *, cycle: Any, entitlement_ids: Any, actor: Any = None
    ) -> None:
        return None

    def on_payments_sent(self, *, cycle: Any, payment_ids: Any, actor: Any = None) -> None:
        return None


def _count(ids: Any) -> int:
    if isinstance(ids, QuerySet):
        return ids.count()
    if isinstance(ids, int):
        return ids
    return len(ids)


class LogNotificationConfig(ManagerConfig):
    level: str = pydantic.Field(default="INFO", pattern="^(DEBUG|INFO|WARNING)$")


@registry.register
class LogNotificationManager(NotificationManager):
    """Records each event — program, event, count, actor — to the ``pbms.notifications`` logger
    (one ``COUNT`` query per event). Useful out of the box for operations dashboards and audits;
    ``records`` keeps the events of this instance's life for callers that want them."""

    key = "log"
    label = "Log Notification"
    Config = LogNotificationConfig
    config: LogNotificationConfig

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: list[dict[str, Any]] = []

    def _record(self, event: str, count: int, actor: Any, **extra: Any) -> None:
        entry = {
            "program": self.program.pk,
            "event": event,
            "count": count,
            "actor": getattr(actor, "username", None) or "system",
            **extra,
        }
        self.records.append(entry)
        logger.log(
            logging.getLevelName(self.config.level),
            "program %(program)s: %(event)s (%(count)s) by %(actor)s",
            entry,
            extra={"g2p_event": entry},
        )

    def on_enrolled(self, *, program: Any, membership_ids: Any, actor: Any = None) -> None:
        self._record("enrolled", _count(membership_ids), actor)

    def on_cycle_approved(self, *, cycle: Any, actor: Any = None) -> None:
        self._record("cycle_approved", 1, actor, cycle=cycle.pk)

    def on_entitlements_approved(
        self, *, cycle: Any, entitlement_ids: Any, actor: Any = None
    ) -> None:
        self._record("entitlements_approved", _count(entitlement_ids), actor, cycle=cycle.pk)

    def on_payments_sent(self, *, cycle: Any, payment_ids: Any, actor: Any = None) -> None:
        self._record("payments_sent", _count(payment_ids), actor, cycle=cycle.pk)


def notification_managers(program: Any) -> list[NotificationManager]:
    """The program's active notification managers (one query)."""
    from g2p_programs.models import ManagerAssignment

    assignments = ManagerAssignment.objects.filter(
        program=program, kind=ManagerKind.NOTIFICATION, active=True
    ).order_by("sequence", "pk")
    return [
        a.manager_class(
            program=program, config=a.manager_class.validate_config(a.config), assignment=a
        )
        for a in assignments
    ]


def notify(program: Any, event: str, **payload: Any) -> list[NotificationManager]:
    """Call ``on_<event>(**payload)`` on every active notification manager of ``program``.

    ``event`` is one of :data:`EVENTS`; for ``"enrolled"`` the ``program`` argument is passed
    to the hook too. Returns the managers called (tests and callers may inspect them).
    """
    if event not in EVENTS:
        raise ValueError(f"Unknown notification event {event!r}; expected one of {EVENTS}.")
    if event == "enrolled":
        payload.setdefault("program", program)
    managers = notification_managers(program)
    for manager in managers:
        getattr(manager, f"on_{event}")(**payload)
    return managers
