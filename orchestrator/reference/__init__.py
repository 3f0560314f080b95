"""Reference data shipped as versioned YAML next to this package, validated at load.

`load_reference()` is the process-wide, cached entry point; `read_reference(directory)`
reads another copy (tests, or a district's data under review).
"""

from orchestrator.reference.loader import (
    DATA_DIR,
    ReferenceDataError,
    load_reference,
    read_reference,
    reference_from,
)
from orchestrator.reference.models import (
    ENTERPRISE_TYPES,
    SEAL_KINDS,
    AccountNumberFormat,
    Bank,
    District,
    DistrictKind,
    DistrictPolicy,
    EnterpriseType,
    EnterpriseTypeInfo,
    GraphStep,
    IndustryDivision,
    IndustrySection,
    Material,
    MaterialKind,
    OrganisationForm,
    Prices,
    ProhibitedCategory,
    ProhibitedWord,
    ReferenceData,
    Region,
    SealSubsidy,
    Step,
    Subsidies,
)

__all__ = [
    "DATA_DIR",
    "ENTERPRISE_TYPES",
    "SEAL_KINDS",
    "AccountNumberFormat",
    "Bank",
    "District",
    "DistrictKind",
    "DistrictPolicy",
    "EnterpriseType",
    "EnterpriseTypeInfo",
    "GraphStep",
    "IndustryDivision",
    "IndustrySection",
    "Material",
    "MaterialKind",
    "OrganisationForm",
    "Prices",
    "ProhibitedCategory",
    "ProhibitedWord",
    "ReferenceData",
    "ReferenceDataError",
    "Region",
    "SealSubsidy",
    "Step",
    "Subsidies",
    "load_reference",
    "read_reference",
    "reference_from",
]
