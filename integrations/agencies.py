"""The agencies OneStop deals with, by the one name each goes by: the adapters are built
for them (`integrations.registry`), the simulators play them, the orchestrator's steps
name them. Beside them, the gateways (the SMS gateway), which no step names.

Neutral, like the national standards: the adapters and the simulators both read it.
"""

from typing import Literal, get_args

AgencyName = Literal[
    "registration",
    "bank_precheck",
    "seal_design",
    "seal",
    "bank_account",
    "tax",
    "social_insurance",
    "medical_insurance",
    "housing_fund",
    "courier",
]
AGENCIES: tuple[AgencyName, ...] = get_args(AgencyName)

# Services OneStop uses beside the agencies, which no step of a filing names: the SMS
# gateway that texts the applicant. Served and faulted by the simulators like an agency.
GatewayName = Literal["sms"]
GATEWAYS: tuple[GatewayName, ...] = get_args(GatewayName)
