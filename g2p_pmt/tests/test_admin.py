"""Back office: saving a PMT configuration recomputes the scores; the score page shows why."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from g2p_pmt.models import PmtScore
from g2p_programs.factories import ProgramFactory
from g2p_registry_base.factories import IndividualFactory

pytestmark = pytest.mark.django_db


def test_saving_the_configuration_scores_and_the_breakdown_is_shown(client, admin_user) -> None:  # type: ignore[no-untyped-def]
    client.force_login(admin_user)
    program = ProgramFactory()
    person = IndividualFactory(additional_g2p_info={"x1": 10, "x2": 10})
    assert client.get(reverse("admin:g2p_pmt_pmtconfig_add")).status_code == 200
    row = {"source": "info", "value_type": "number", "aggregate": "own", "choices": "{}"}
    response = client.post(
        reverse("admin:g2p_pmt_pmtconfig_add"),
        {
            "program": program.pk,
            "enabled": "on",
            "indicators-TOTAL_FORMS": "2",
            "indicators-INITIAL_FORMS": "0",
            "indicators-MIN_NUM_FORMS": "0",
            "indicators-MAX_NUM_FORMS": "1000",
            **{f"indicators-0-{k}": v for k, v in row.items()},
            "indicators-0-sequence": "10",
            "indicators-0-name": "x1",
            "indicators-0-key": "x1",
            "indicators-0-weight": "0.5",
            **{f"indicators-1-{k}": v for k, v in row.items()},
            "indicators-1-sequence": "20",
            "indicators-1-name": "x2",
            "indicators-1-key": "x2",
            "indicators-1-weight": "0.3",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert b"1 PMT scores updated." in response.content
    score = PmtScore.objects.get(program=program, registrant=person)
    assert score.score == Decimal("8")
    page = client.get(reverse("admin:g2p_pmt_pmtscore_change", args=[score.pk]))
    assert page.status_code == 200
    assert b"&quot;points&quot;: 5.0" in page.content
    listing = client.get(reverse("admin:g2p_pmt_pmtscore_changelist"), {"q": person.name})
    assert listing.status_code == 200 and b"8.000000" in listing.content
