"""The social-insurance agency (社保), over SOAP: unit account with the initial staff.

Result: `unit_account` and `enrolled` (how many staff were enrolled). An empty staff list
is answered blocked, naming `staff_roster` (a 容缺 material).
"""

from __future__ import annotations

from integrations.adapter import EnrolmentAdapter
from integrations.requests import SocialInsuranceRequest
from integrations.soap import SoapService

SOAP_SERVICE = SoapService(
    agency="social_insurance",
    wsdl="social_insurance.wsdl",
    submit="RegisterUnit",
    query="QueryUnitRegistration",
)


class SocialInsuranceAdapter(EnrolmentAdapter[SocialInsuranceRequest]):
    """Registers the unit and enrols its staff."""

    agency = "social_insurance"
    roster_field = "employee"
    account_field = "unit_no"
    count_field = "insured_count"
