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


def test_registrant_form_shows_the_score_and_why(client, admin_user, viewer) -> None:  # type: ignore[no-untyped-def]
    from g2p_pmt.services import pmt_config_save

    program = ProgramFactory(name="Cash for Work")
    person = IndividualFactory(additional_g2p_info={"x1": 10, "x2": 10})
    nobody = IndividualFactory()
    pmt_config_save(
        program=program,
        enabled=True,
        indicators=[
            {"name": "x1", "source": "info", "key": "x1", "weight": Decimal("0.5")},
            {"name": "x2", "source": "info", "key": "x2", "weight": Decimal("0.3")},
        ],
        actor=None,
    )
    PmtScore.objects.filter(registrant=nobody).delete()
    client.force_login(admin_user)
    page = client.get(reverse("admin:g2p_registry_base_individual_change", args=[person.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="panel-pmt"' in html
    assert '<td class="px-3 py-2 align-top">8</td>' in html
    assert "Cash for Work — x1: 10 × 0.5 = 5.0; x2: 10 × 0.3 = 3.0" in html
    empty = client.get(reverse("admin:g2p_registry_base_individual_change", args=[nobody.pk]))
    assert "No PMT score: no program with PMT enabled scores this registrant." in (
        empty.content.decode()
    )
    # A Registry Viewer holds no PMT permission: the form shows no panel.
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    client.force_login(viewer)
    page = client.get(reverse("admin:g2p_registry_base_individual_change", args=[person.pk]))
    assert page.status_code == 200
    assert 'id="panel-pmt"' not in page.content.decode()
