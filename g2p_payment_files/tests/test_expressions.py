import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from g2p_payment_files.expressions import ExpressionError, compile_columns, compile_expression
from g2p_payment_files.models import PaymentFileConfig

ROW = {
    "name": "P-1",
    "amount_issued": Decimal("1234.5"),
    "issuance_date": datetime.datetime(2025, 3, 7, 10, 30, tzinfo=datetime.UTC),
    "entitlement__registrant__family_name": "Doe",
    "entitlement__valid_from": None,
    "bank_acc_holder_name": None,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("payment.name", "P-1"),
        ("payment.amount_issued", "1234.5"),
        ("payment.amount_issued|amount", "1234.50"),
        ("beneficiary.family_name|upper", "DOE"),
        ("beneficiary.family_name|lower", "doe"),
        ('payment.issuance_date|date:"%d/%m/%Y"', "07/03/2025"),
        ("payment.issuance_date|date", "2025-03-07"),
        ('bank_account.acc_holder_name|default:"-"', "-"),
        ('entitlement.valid_from|default:"none"|upper', "NONE"),
        ("entitlement.valid_from|date", ""),
        ('"USD"', "USD"),
        (r'"say \"hi\""|upper', 'SAY "HI"'),
        ("  payment.name | lower  ", "p-1"),
    ],
)
def test_good_expressions_render(source, expected):
    assert compile_expression(source).render(ROW) == expected


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("", "the expression is empty"),
        ("payment.secret", 'unknown field "payment.secret"'),
        ("payment.__class__", 'unknown field "payment.__class__"'),
        ("entitlement.registrant.password", 'unknown field "entitlement.registrant.password"'),
        ("payment.name.upper()", "unexpected text at position 19"),
        ('__import__("os")', "unexpected text at position 11"),
        ("payment.name|eval", 'unknown filter "eval"'),
        ("payment.name|default", 'the filter "default" needs an argument'),
        ('payment.name|upper:"x"', 'the filter "upper" takes no argument'),
        ("payment.name|date:%Y", "unexpected text at position 19"),
        ('payment.issuance_date|date:"%s %Q"', 'unsupported date format "%s %Q"'),
        ("payment.name|", 'expected "|" and a filter name after "payment.name"'),
        ("payment.name upper", 'expected "|" and a filter name after "payment.name"'),
        ("|upper", "an expression starts with a field or a quoted text"),
        ("{{ payment.name }}", "unexpected text at position 1"),
    ],
)
def test_refused_expressions_say_why(source, problem):
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert str(info.value) == problem


def test_bad_columns_are_refused_naming_each_column():
    with pytest.raises(ValidationError) as info:
        compile_columns(
            [
                {"header": "Reference", "expression": "payment.name"},
                {"header": "Amount", "expression": "payment.amount|amount"},
                {"header": "", "expression": "payment.name"},
                {"header": "Code", "expression": "payment.name|exec"},
                {"header": "X"},
            ]
        )
    assert info.value.message_dict == {
        "columns": [
            'Column 2 "Amount": unknown field "payment.amount".',
            "Column 3: the header is empty.",
            'Column 4 "Code": unknown filter "exec".',
            'Column 5: give exactly "header" and "expression".',
        ]
    }


@pytest.mark.django_db
def test_file_config_refuses_bad_templates_and_saves_nothing():
    config = PaymentFileConfig(
        name="Bank A",
        columns=[{"header": "Amount", "expression": "payment.amount_issued|round"}],
        qr_header="QR",
        qr_expression="payment.name|",
    )
    with pytest.raises(ValidationError) as info:
        config.full_clean()
    assert info.value.message_dict == {
        "columns": ['Column 1 "Amount": unknown filter "round".'],
        "qr_expression": ['QR column "QR": expected "|" and a filter name after "payment.name".'],
    }
    assert PaymentFileConfig.objects.count() == 0
    with pytest.raises(ValidationError) as empty:
        PaymentFileConfig(name="Empty", columns=[]).full_clean()
    assert empty.value.message_dict == {"columns": ["List at least one column."]}
