"""Pagination and path parameters shared by the routers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from ninja import Path, Query

MAX_LIMIT = 500
# Ids and offsets beyond PostgreSQL's bigint would be a database error, not a miss.
MAX_ID = 2**63 - 1

LIMIT = Query(50, ge=1, le=MAX_LIMIT, description=f"Page size (at most {MAX_LIMIT}).")
OFFSET = Query(0, ge=0, le=2**31, description="Records to skip.")
PK = Path(..., ge=1, le=MAX_ID)


def page(
    qs: QuerySet[Any], *, limit: int, offset: int, render: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """One page of ``qs`` (ordered by the caller) with the total: a count and one page query
    (plus the queryset's prefetches)."""
    count = qs.count()
    rows = list(qs[offset : offset + limit]) if offset < count else []
    return {"count": count, "limit": limit, "offset": offset, "items": [render(r) for r in rows]}
