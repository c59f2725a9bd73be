"""Expected response bodies, built from the stored rows."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from g2p_registry_base.models import Registrant


def stamp(value: Any) -> Any:
    """A date or time as the API writes it."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def stamps(registrant: Registrant) -> dict[str, Any]:
    registrant.refresh_from_db()
    return {
        "create_date": stamp(registrant.create_date),
        "write_date": stamp(registrant.write_date),
    }


def post(client: Any, url: str, body: Any, headers: dict[str, str], method: str = "post") -> Any:
    call = getattr(client, method)
    return call(url, json.dumps(body), content_type="application/json", **headers)
