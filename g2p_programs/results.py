"""What a business step reports back: upstream's notification payloads.

Upstream buttons return ``display_notification`` client actions (title, message, type, sticky);
services return the same facts as a :class:`Notification`, which the back office shows as a
message and the Odoo-compatible RPC API returns in upstream's shape. Refusals are raised as
``ValidationError`` with upstream's message instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["success", "warning", "danger", "info"]


@dataclass(frozen=True)
class Notification:
    title: str
    message: str
    type: Kind = "success"
    sticky: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def as_odoo_action(self) -> dict[str, Any]:
        """The ``ir.actions.client`` / ``display_notification`` dict upstream returns."""
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.title,
                "message": self.message,
                "sticky": self.sticky,
                "type": self.type,
            },
        }
