"""Read, validate and cross-check the reference YAML files; `load_reference()` caches them.

A bad file stops start-up with a `ReferenceDataError` naming the file, the entry and the
field, so that a data change is fixed where it was made rather than found by a filing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError, ValidationInfo

from orchestrator.reference.models import (
    ENTERPRISE_TYPES,
    BanksFile,
    DistrictsFile,
    EnterpriseTypesFile,
    IndustriesFile,
    IndustryDivision,
    MaterialsFile,
    ProhibitedWord,
    ProhibitedWordsFile,
    ReferenceData,
)
from orchestrator.workflow import WorkflowError, by_name, graph

DATA_DIR = Path(__file__).parent
"""Where the shipped YAML files live (next to this module)."""

DISTRICTS = "districts.yaml"
INDUSTRIES = "industries.yaml"
MATERIALS = "materials.yaml"
BANKS = "banks.yaml"
PROHIBITED_WORDS = "prohibited_words.yaml"
ENTERPRISE_TYPES_FILE = "enterprise_types.yaml"

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")

# Keys that name an entry in an error message, in order of preference.
_ENTRY_KEYS = ("code", "word", "form")


class ReferenceDataError(Exception):
    """A reference file is missing, unreadable, malformed or inconsistent."""

    def __init__(self, file: str, problems: Iterable[str]) -> None:
        self.file = file
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"reference data {file} is invalid:\n{listed}")


def reference_from(info: ValidationInfo) -> ReferenceData:
    """The reference data a validation was given in its context, else the shipped data."""
    context = info.context
    if isinstance(context, Mapping):
        reference = context.get("reference")
        if isinstance(reference, ReferenceData):
            return reference
    return load_reference()


@lru_cache(maxsize=1)
def load_reference() -> ReferenceData:
    """The shipped reference data, read and checked once per process."""
    return read_reference(DATA_DIR)


def read_reference(directory: Path) -> ReferenceData:
    """Read and check the six reference files in `directory` (uncached)."""
    districts = _parse(directory, DISTRICTS, DistrictsFile)
    industries = _parse(directory, INDUSTRIES, IndustriesFile)
    materials = _parse(directory, MATERIALS, MaterialsFile)
    banks = _parse(directory, BANKS, BanksFile)
    words = _parse(directory, PROHIBITED_WORDS, ProhibitedWordsFile)
    types = _parse(directory, ENTERPRISE_TYPES_FILE, EnterpriseTypesFile)

    bank_index = _index(BANKS, "banks", [(b.code, b) for b in banks.banks])
    sections = _index(INDUSTRIES, "sections", [(s.code, s) for s in industries.sections])
    division_index = _index(
        INDUSTRIES,
        "divisions",
        [
            (
                code,
                IndustryDivision(
                    code=code,
                    name_zh=name,
                    section_code=section.code,
                    section_name_zh=section.name_zh,
                    section_name_en=section.name_en,
                    enterprise_eligible=section.enterprise_eligible,
                ),
            )
            for section in industries.sections
            for code, name in section.divisions.items()
        ],
    )
    district_index = _index(DISTRICTS, "districts", [(d.code, d) for d in districts.districts])
    problems: list[str] = []
    for i, district in enumerate(districts.districts):
        entry = f"entry districts[{i}] ({district.code})"
        for bank in district.policy.partner_banks:
            if bank not in bank_index:
                problems.append(f"{entry}: policy.partner_banks: unknown bank {bank!r}")
        seals = district.policy.subsidies.seals
        for division in sorted(seals.industry_divisions or ()) if seals else ():
            if division not in division_index:
                problems.append(
                    f"{entry}: policy.subsidies.seals.industry_divisions: "
                    f"unknown GB/T 4754 division {division!r}"
                )
    problems += _graph_problems(districts)
    _raise_if(DISTRICTS, problems)

    material_index = _index(MATERIALS, "materials", [(m.code, m) for m in materials.materials])
    # A supplement sets the fields its material carries: a field two materials carried could
    # be overwritten by the supplement of either.
    carrier: dict[str, str] = {}
    problems = []
    for i, material in enumerate(materials.materials):
        for field in material.carries:
            if field in carrier:
                problems.append(
                    f"entry materials[{i}] ({material.code}): carries: {field!r} is already "
                    f"carried by {carrier[field]!r}"
                )
            carrier.setdefault(field, material.code)
    steps = by_name()
    for i, material in enumerate(materials.materials):
        for step in material.needed_by:
            if step not in steps:
                problems.append(f"entry materials[{i}] ({material.code}): unknown step {step!r}")
    _raise_if(MATERIALS, problems)

    prohibited: list[ProhibitedWord] = []
    problems = []
    for i, entry_ in enumerate(words.words):
        reason = words.categories.get(entry_.category)
        if entry_.reason_zh is not None and entry_.reason_en is not None:
            reason_zh, reason_en = entry_.reason_zh, entry_.reason_en
        elif reason is not None:
            reason_zh, reason_en = reason.reason_zh, reason.reason_en
        else:
            problems.append(
                f"entry words[{i}] ({entry_.word}): category {entry_.category!r} has no reason "
                "under categories, and the entry gives none"
            )
            continue
        prohibited.append(
            ProhibitedWord(
                word=entry_.word,
                category=entry_.category,
                reason_zh=reason_zh,
                reason_en=reason_en,
                allowed_within=entry_.allowed_within,
            )
        )
    _raise_if(PROHIBITED_WORDS, problems)
    _index(PROHIBITED_WORDS, "words", [(w.word, w) for w in prohibited])

    type_index = _index(
        ENTERPRISE_TYPES_FILE, "enterprise_types", [(t.code, t) for t in types.enterprise_types]
    )
    _raise_if(
        ENTERPRISE_TYPES_FILE,
        [
            f"enterprise_types: no entry for {code!r}"
            for code in ENTERPRISE_TYPES
            if code not in type_index
        ],
    )
    form_index = _index(
        ENTERPRISE_TYPES_FILE, "organisation_forms", [(f.form, f) for f in types.organisation_forms]
    )

    return ReferenceData(
        versions={
            DISTRICTS: districts.version,
            INDUSTRIES: industries.version,
            MATERIALS: materials.version,
            BANKS: banks.version,
            PROHIBITED_WORDS: words.version,
            ENTERPRISE_TYPES_FILE: types.version,
        },
        graphs=districts.graphs,
        step_budgets=districts.step_budgets,
        districts=district_index,
        industry_sections=sections,
        industry_divisions=division_index,
        materials=material_index,
        banks=bank_index,
        prohibited_words=tuple(prohibited),
        enterprise_types=type_index,
        # Longest first, so that 股份有限公司 is recognised before 有限公司.
        organisation_forms=dict(sorted(form_index.items(), key=lambda item: -len(item[0]))),
    )


def _graph_problems(districts: DistrictsFile) -> list[str]:
    """Each graph checked against the declared steps; each district's graph one of them."""
    problems = []
    for name, steps in districts.graphs.items():
        try:
            graph((entry.step, entry.needs) for entry in steps)
        except WorkflowError as exc:
            problems.append(f"graphs.{name}: {exc}")
    declared = by_name()
    for step in districts.step_budgets:
        if step not in declared:
            problems.append(f"step_budgets: no step {step!r} is declared")
    for name, steps in districts.graphs.items():
        unbudgeted = [e.step for e in steps if e.step not in districts.step_budgets]
        if unbudgeted:
            problems.append(f"graphs.{name}: no step_budgets for {', '.join(unbudgeted)}")
    for i, district in enumerate(districts.districts):
        strangers = [s for s in district.policy.step_budgets if s not in declared]
        if strangers:
            problems.append(
                f"entry districts[{i}] ({district.code}): policy.step_budgets: "
                f"no step {', '.join(map(repr, strangers))} is declared"
            )
        if district.policy.graph not in districts.graphs:
            problems.append(
                f"entry districts[{i}] ({district.code}): policy.graph: "
                f"no graph {district.policy.graph!r} under graphs"
            )
    return problems


def _parse(directory: Path, name: str, model: type[_M]) -> _M:
    raw = _read_yaml(directory / name)
    if not isinstance(raw, dict):
        raise ReferenceDataError(name, ["the file must be a mapping with a version and entries"])
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ReferenceDataError(name, [_describe(raw, error) for error in exc.errors()]) from None


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceDataError(path.name, [f"cannot be read: {exc.strerror or exc}"]) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise ReferenceDataError(path.name, [f"not valid YAML: {exc}"]) from None


def _describe(raw: Mapping[str, Any], error: Mapping[str, Any]) -> str:
    """'entry districts[1] (370811): policy.sla_working_days: Input should be …'."""
    loc: tuple[str | int, ...] = tuple(error["loc"])
    message = str(error["msg"])
    if len(loc) >= 2 and isinstance(loc[1], int):
        entries = raw.get(str(loc[0]))
        label = f"entry {loc[0]}[{loc[1]}]"
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        if isinstance(entry, dict):
            key = next((entry[k] for k in _ENTRY_KEYS if k in entry), None)
            if key is not None:
                label += f" ({key})"
        field = ".".join(str(part) for part in loc[2:])
        return f"{label}: {field}: {message}" if field else f"{label}: {message}"
    return f"{'.'.join(str(part) for part in loc) or 'file'}: {message}"


def _index(file: str, what: str, items: Iterable[tuple[str, _T]]) -> dict[str, _T]:
    """Items by key; two entries with one key are an error naming both."""
    index: dict[str, _T] = {}
    problems: list[str] = []
    for key, item in items:
        if key in index:
            problems.append(f"{what}: {key!r} appears more than once")
        index[key] = item
    _raise_if(file, problems)
    return index


def _raise_if(file: str, problems: list[str]) -> None:
    if problems:
        raise ReferenceDataError(file, problems)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (PyYAML keeps the last silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        if isinstance(key, str | int):
            seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
