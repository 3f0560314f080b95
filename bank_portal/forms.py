"""The one form: its fields as the clerk types them, turned into the API's `FilingInput`,
and the API's field errors put back beside the fields they concern.

Fields are named by the filing's dotted paths (`company_name.trade_name`,
`shareholders.1.id_number`), so an error's path names its field; the few fields typed
otherwise (capital in yuan, scope one item a line, seal boxes) say where their errors go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from orchestrator.filings.schemas import FilingInput
from orchestrator.validation import FieldError, field_errors

SHAREHOLDER_ROWS = 3
STAFF_ROWS = 3
PERSON = ("name", "id_number", "mobile")
MULTI = frozenset({"seals"})  # check boxes: a list

# Where errors of a path the form shows elsewhere are put.
_SHOWN_AT = {
    "registered_capital_fen": "registered_capital_yuan",
    "business_scope": "business_scope",
    "materials": "materials",
    "shareholders": "shareholders",
    "staff": "staff",
    "delivery": "delivery.method",
}


def field_names() -> list[str]:
    """Every field the form may post (apart from the CSRF token and the seals)."""
    names = [
        "district_code", "industry_code", "enterprise_type",
        "company_name.region", "company_name.trade_name", "company_name.industry_term",
        "company_name.organisation_form", "registered_capital_yuan", "business_scope",
        "address", "bank_code", "branch_code", "taxpayer_type", "housing_fund_rate_percent",
        "delivery.method", "delivery.recipient", "delivery.mobile", "delivery.address",
    ]  # fmt: skip
    names += [f"legal_representative.{f}" for f in PERSON]
    names += [f"finance_officer.{f}" for f in PERSON]
    names += [
        f"shareholders.{i}.{f}" for i in range(SHAREHOLDER_ROWS) for f in (*PERSON, "share_percent")
    ]
    names += [f"staff.{i}.{f}" for i in range(STAFF_ROWS) for f in ("name", "id_number")]
    return names


def typed(form: Mapping[str, Any]) -> dict[str, Any]:
    """What the clerk typed, by field (text trimmed of nothing; seals a list)."""
    kept: dict[str, Any] = {name: str(form.get(name, ""))[:2000] for name in field_names()}
    seals = form.get("seals", [])
    kept["seals"] = [str(s)[:40] for s in (seals if isinstance(seals, list) else [seals])][:8]
    return kept


def _person(form: Mapping[str, Any], prefix: str, fields: Iterable[str]) -> dict[str, Any]:
    return {f: form.get(f"{prefix}.{f}", "") for f in fields}


def _filled(row: Mapping[str, Any]) -> bool:
    return any(str(v).strip() for v in row.values())


def _number(text: str) -> Any:
    try:
        return float(Decimal(text.strip()))
    except (InvalidOperation, ValueError):
        return text  # left for the schema to refuse as not a number


def _fen(yuan: str) -> Any:
    try:
        return int((Decimal(yuan.strip().replace(",", "")) * 100).to_integral_value())
    except (InvalidOperation, ValueError):
        return yuan


def filing_input(form: Mapping[str, Any], materials: Iterable[str]) -> dict[str, Any]:
    """The `FilingInput` payload the typed form and the uploaded materials make."""
    shareholders = [
        {**_person(form, f"shareholders.{i}", PERSON),
         "share_percent": _number(str(form.get(f"shareholders.{i}.share_percent", "")))}
        for i in range(SHAREHOLDER_ROWS)
    ]  # fmt: skip
    staff = [_person(form, f"staff.{i}", ("name", "id_number")) for i in range(STAFF_ROWS)]
    finance = _person(form, "finance_officer", PERSON)
    method = form.get("delivery.method", "") or "branch_pickup"
    delivery: dict[str, Any] = {"method": method}
    if method == "courier":
        delivery |= _person(form, "delivery", ("recipient", "mobile", "address"))
    return {
        "district_code": form.get("district_code", ""),
        "industry_code": form.get("industry_code", ""),
        "enterprise_type": form.get("enterprise_type", ""),
        "company_name": _person(
            form, "company_name", ("region", "trade_name", "industry_term", "organisation_form")
        ),
        "registered_capital_fen": _fen(str(form.get("registered_capital_yuan", ""))),
        "business_scope": [
            line.strip()
            for line in str(form.get("business_scope", "")).splitlines()
            if line.strip()
        ],
        "address": form.get("address", ""),
        "legal_representative": _person(form, "legal_representative", PERSON),
        # Empty rows are rows the clerk did not need; a half-filled one is checked.
        "shareholders": [row for row in shareholders if _filled(row)],
        "finance_officer": finance if _filled(finance) else None,
        "seals": list(form.get("seals", [])),
        "bank_code": form.get("bank_code", ""),
        "branch_code": form.get("branch_code", ""),
        "taxpayer_type": form.get("taxpayer_type", ""),
        "staff": [row for row in staff if _filled(row)],
        "housing_fund_rate_percent": _number(str(form.get("housing_fund_rate_percent", ""))),
        "delivery": delivery,
        "materials": sorted(set(materials)),
    }


def shown_at(path: str) -> str:
    """The form field an error at `path` is shown beside."""
    if path in _SHOWN_AT:
        return _SHOWN_AT[path]
    head = path.split(".")[0]
    if head in ("business_scope", "materials", "seals"):
        return head
    return path


def validate(
    form: Mapping[str, Any], materials: Iterable[str]
) -> tuple[FilingInput | None, list[FieldError]]:
    """The filing the form makes, or the API's field errors (each at its form field)."""
    try:
        return FilingInput.model_validate(filing_input(form, materials)), []
    except ValidationError as exc:
        errors = field_errors(exc)
    return None, [error.model_copy(update={"field": shown_at(error.field)}) for error in errors]


def messages(errors: Iterable[FieldError], language_is_default: bool) -> dict[str, list[str]]:
    """Each field's errors in the page's language (the core's pairs: the page's half)."""
    shown: dict[str, list[str]] = {}
    for error in errors:
        text = error.message_zh if language_is_default else error.message_en
        shown.setdefault(error.field or "form", []).append(text)
    return shown


def from_dicts(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """A refusal's field errors (the core's `Invalid` detail) as `FieldError`s."""
    return [FieldError.model_validate(e) for e in errors]
