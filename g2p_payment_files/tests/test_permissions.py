"""Downloads and reconciliation check permissions server-side; Program Validators hold none."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from g2p_payment_files.models import PaymentFile, PaymentFileConfig, ReconciliationImport
from g2p_payment_files.services import payment_file_for_download, reconciliation_import
from g2p_payment_files.tests.conftest import approve_and_prepare, file_config, file_program
from g2p_programs.models import Payment
from g2p_programs.services import payments as payment_services
from g2p_programs.tests.fixtures_money import add_volume

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_file(inline):
    config = file_config("Perm", "csv")
    cycle = file_program("Perm", config={"file_config_ids": [config.pk]})
    add_volume(cycle, 3)
    approve_and_prepare(cycle)
    payment_services.payments_send(cycle=cycle, actor=None)
    return PaymentFile.objects.get()


def _staff(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def _result_for(payment: Payment) -> bytes:
    return (
        f"reference,status,amount_paid,date,reason\r\n{payment.name},paid,100.00,2025-02-01,\r\n"
    ).encode()


def test_program_validator_cannot_download_or_reconcile(sent_file, validator_user, client):
    payment = Payment.objects.order_by("pk").first()
    with pytest.raises(PermissionDenied):
        payment_file_for_download(file_id=sent_file.pk, actor=validator_user)
    with pytest.raises(PermissionDenied):
        reconciliation_import(filename="r.csv", content=_result_for(payment), actor=validator_user)

    client.force_login(_staff(validator_user))
    url = reverse("admin:g2p_payment_files_paymentfile_download", args=[sent_file.pk])
    assert client.get(url).status_code == 403
    upload = reverse("admin:g2p_payment_files_reconcile")
    assert client.get(upload).status_code == 403
    response = client.post(
        upload, {"file": SimpleUploadedFile("r.csv", _result_for(payment)), "dry_run": ""}
    )
    assert response.status_code == 403
    assert ReconciliationImport.objects.count() == 0
    assert Payment.objects.filter(state="reconciled").count() == 0


def test_finance_validator_downloads_and_reconciles_in_the_back_office(sent_file, finance, client):
    client.force_login(_staff(finance))
    listing = client.get(reverse("admin:g2p_payment_files_paymentfile_changelist"))
    assert listing.status_code == 200
    url = reverse("admin:g2p_payment_files_paymentfile_download", args=[sent_file.pk])
    assert url in listing.content.decode()
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == bytes(sent_file.content)
    assert response["X-Checksum-SHA256"] == hashlib.sha256(response.content).hexdigest()
    assert response["Content-Disposition"] == f'attachment; filename="{sent_file.filename}"'

    payment = Payment.objects.order_by("pk").first()
    upload = reverse("admin:g2p_payment_files_reconcile")
    imports = client.get(reverse("admin:g2p_payment_files_reconciliationimport_changelist"))
    assert f'href="{upload}" id="reconcile-upload-link"' in imports.content.decode()
    bad = client.post(
        upload,
        {
            "file": SimpleUploadedFile(
                "bad.csv", b"reference,status,amount_paid,date,reason\r\nNOPE,paid,1,,\r\n"
            )
        },
    )
    assert bad.status_code == 200
    page = bad.content.decode()
    assert "no payment with this reference" in page and 'class="reconcile-problem' in page
    preview = client.post(
        upload, {"file": SimpleUploadedFile("r.csv", _result_for(payment)), "dry_run": "on"}
    )
    assert "1 payment would be reconciled" in preview.content.decode()
    assert ReconciliationImport.objects.count() == 0
    done = client.post(upload, {"file": SimpleUploadedFile("r.csv", _result_for(payment))})
    assert done.status_code == 302
    payment.refresh_from_db()
    assert (payment.state, payment.status) == ("reconciled", "paid")
    assert ReconciliationImport.objects.get().imported_by == finance


def test_back_office_refuses_a_bad_template_naming_the_column(admin_user, client):
    client.force_login(admin_user)
    url = reverse("admin:g2p_payment_files_paymentfileconfig_add")
    columns = '[{"header": "Amount", "expression": "payment.amount_issued|exec"}]'
    response = client.post(
        url,
        {"name": "Bank", "file_format": "csv", "columns": columns, "qr_header": "QR"},
    )
    assert response.status_code == 200
    assert "Column 1 &quot;Amount&quot;: unknown filter &quot;exec&quot;." in (
        response.content.decode()
    )
    good = '[{"header": "Amount", "expression": "payment.amount_issued|amount"}]'
    saved = client.post(
        url, {"name": "Bank", "file_format": "csv", "columns": good, "qr_header": "QR"}
    )
    assert saved.status_code == 302
    assert PaymentFileConfig.objects.get().columns == [
        {"header": "Amount", "expression": "payment.amount_issued|amount"}
    ]
