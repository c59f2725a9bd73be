"""Default managers of the seven kinds, one module per kind; ``load()`` registers them."""

from importlib import import_module

MODULES = (
    "program",
    "eligibility",
    "deduplication",
    "cycle",
    "entitlement",
    "payment",
    "notification",
)


def load() -> None:
    for name in MODULES:
        import_module(f"{__name__}.{name}")
