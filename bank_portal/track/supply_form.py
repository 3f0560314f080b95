"""The inputs of a 容缺 material's supply form on the tracking page: those of the fields the
material carries (the catalogue's `carries`), named as the clerk's one form names them, so
that the core's field errors land beside them."""

from __future__ import annotations

from dataclasses import dataclass

from bank_portal import forms
from bank_portal.i18n import N_
from orchestrator.filings import supplements

# How the inputs of a carried field are labelled: the field (a row's number in it) and part.
GROUPS = {"finance_officer": N_("Finance officer"), "staff": N_("Employee %(n)s")}
PARTS = {"name": N_("Name"), "id_number": N_("Resident ID"), "mobile": N_("Mobile")}


@dataclass(frozen=True)
class Input:
    """One input of a material's form: its name (the filing's dotted path, as the clerk's
    form names it), its field, its row (from 1, or 0) and its part."""

    name: str
    group: str
    row: int
    part: str


def inputs_of(material_code: str) -> list[Input]:
    """The inputs a material's supply form shows: those of the fields it carries."""
    found: list[Input] = []
    for carried in supplements.carried_fields(material_code):
        for name in forms.field_names():
            parts = name.split(".")
            if parts[0] == carried:
                row = int(parts[1]) + 1 if len(parts) == 3 else 0
                found.append(Input(name, carried, row, parts[-1]))
    return found
