"""The one form's fields and the API's validation: what the clerk types becomes the
`FilingInput` the API takes, and each error lands beside the field that the clerk changes."""

from __future__ import annotations

from bank_portal import forms
from tests.factories import ESSENTIAL_MATERIALS
from tests.portal.test_form import typed_form

BRANCH = {"district_code": "370783", "enterprise_type": "llc", "bank_code": "ABC",
          "taxpayer_type": "small_scale", "delivery.method": "branch_pickup",
          "seals": ["official"]}  # fmt: skip


def test_a_typed_form_makes_the_filing() -> None:
    typed = forms.typed(BRANCH | typed_form("禾润"))
    data, errors = forms.validate(typed, ESSENTIAL_MATERIALS)
    assert errors == [] and data is not None
    assert data.registered_capital_fen == 100_000_000
    assert [s.share_percent for s in data.shareholders] == [60, 40]  # the empty row left out
    assert data.company_name.full == "寿光市禾润农业科技有限公司"


def test_each_error_is_beside_its_field() -> None:
    typed = forms.typed(
        BRANCH
        | typed_form("禾润")
        | {
            "registered_capital_yuan": "lots",
            "shareholders.1.share_percent": "10",
            "legal_representative.mobile": "1380536",
        }
    )
    data, errors = forms.validate(typed, ESSENTIAL_MATERIALS[:3])
    assert data is None
    shown = forms.messages(errors, language_is_default=False)
    assert set(shown) == {
        "registered_capital_yuan",
        "shareholders",  # the shares no longer add up to 100
        "legal_representative.mobile",
        "materials",  # the mandate is missing
    }
    assert shown["legal_representative.mobile"] == [
        "A mobile number is an 11-digit mainland China number (1, then 3–9, then 9 digits)"
    ]
