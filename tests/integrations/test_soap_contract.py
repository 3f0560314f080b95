"""Adapter and simulator agree on every SOAP operation: what zeep sends fits the schema the
simulator validates with, and every kind of reply the simulator sends parses with zeep.
Also the simulators' SOAP endpoint on its own: WSDL, safe parsing, refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import zeep
from lxml import etree

from integrations import bank_account, seal, social_insurance, tax
from integrations.base import BlockedError, Done, Pending, RejectedError
from integrations.simulators.server import BackgroundServer
from integrations.simulators.soap import SOAP_ENV, SOAP_SERVICES
from integrations.soap import SoapChannel, SoapService
from tests.integrations.agency_factories import (
    REQUEST_FACTORIES,
    Adapters,
    bank_account_request,
    new_key,
    seal_request,
    social_insurance_request,
    tax_request,
)
from tests.integrations.conftest import SimControl

OUR_SERVICES: dict[str, SoapService] = {
    "seal": seal.SOAP_SERVICE,
    "bank_account": bank_account.SOAP_SERVICE,
    "tax": tax.SOAP_SERVICE,
    "social_insurance": social_insurance.SOAP_SERVICE,
}
AGENCIES = list(OUR_SERVICES)
# A request each agency refuses on the merits, and one it blocks on (if it ever blocks).
REFUSED = {
    "seal": lambda: seal_request(credit_code="91370783MA3C0DE00X"),
    "bank_account": lambda: bank_account_request(bank_code="NOBANK"),
    "tax": lambda: tax_request(credit_code="91370783MA3C0DE00X"),
    "social_insurance": lambda: social_insurance_request(credit_code="91370783MA3C0DE00X"),
}
# What each of those refusals concerns, as paths into our request.
REFUSED_FIELDS = {
    "seal": ("credit_code",),
    "bank_account": ("bank_code",),
    "tax": ("credit_code",),
    "social_insurance": ("credit_code",),
}
BLOCKED = {
    "tax": lambda: tax_request(finance_officer=None),
    "social_insurance": lambda: social_insurance_request(staff=()),
}


def soap_post(sim: SimControl, agency: str, body: bytes, **headers: str) -> httpx.Response:
    return sim.http.post(
        f"/{agency}/soap", content=body, headers={"Content-Type": "text/xml", **headers}
    )


def envelope(inner: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{inner}</soap:Body></soap:Envelope>'
    ).encode()


def fault_detail(response: httpx.Response) -> tuple[str, str]:
    """(faultcode, detail code) of a SOAP fault reply."""
    assert response.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None
    code = next((e.text for e in fault.iter() if etree.QName(e).localname == "code"), "")
    return str(fault.findtext("faultcode")), str(code)


@pytest.mark.parametrize("agency", AGENCIES)
class TestContract:
    def test_what_zeep_sends_fits_the_simulators_schema(self, agency: str) -> None:
        channel = SoapChannel("http://agency.test", OUR_SERVICES[agency], timeout=1)
        adapter: Any = {
            "seal": seal.SealAdapter,
            "bank_account": bank_account.BankAccountAdapter,
            "tax": tax.TaxAdapter,
            "social_insurance": social_insurance.SocialInsuranceAdapter,
        }[agency](channel)
        schema = SOAP_SERVICES[agency].schema
        payload = adapter.to_agency(REQUEST_FACTORIES[agency]())
        client: Any = channel._client  # the channel's own zeep client, as it sends
        service: Any = channel._service
        for operation, values in (
            (OUR_SERVICES[agency].submit, {"requestKey": "k", **payload}),
            (OUR_SERVICES[agency].query, {"requestKey": "k"}),
        ):
            body = client.create_message(service, operation, **values)[0][0]
            schema.assertValid(body)
        channel.close()

    def test_done_and_processing_parse_with_zeep(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        sim.behave(agency, latency_ms=300, sync_limit_ms=0)
        key = new_key(agency)
        assert isinstance(
            adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=key), Pending
        )
        assert isinstance(adapters[agency].status(key), Pending)
        sim.behave(agency)
        assert isinstance(
            adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=new_key()), Done
        )

    def test_unknown_parses_as_none(self, agency: str, adapters: Adapters, sim: SimControl) -> None:
        assert adapters[agency].status(new_key("never")) is None

    def test_rejected_parses_as_a_refusal(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        key = new_key(agency)
        with pytest.raises(RejectedError) as caught:
            adapters[agency].submit(REFUSED[agency](), idempotency_key=key)
        assert caught.value.code and caught.value.message
        assert caught.value.fields == REFUSED_FIELDS[agency]
        with pytest.raises(RejectedError) as again:
            adapters[agency].status(key)
        assert again.value.fields == REFUSED_FIELDS[agency]

    def test_a_refusal_may_name_fields_or_none(self, agency: str) -> None:
        # The field element is optional: a Refusal as agencies sent it before still fits.
        service = SOAP_SERVICES[agency]
        for fields in ((), ("uscc",), ("uscc", "legal_representative.cert_no")):
            refusal = etree.Element(service.qname("Refusal"))
            for name, value in (("code", "c"), ("message", "m"), *(("field", f) for f in fields)):
                etree.SubElement(refusal, service.qname(name)).text = value
            service.schema.assertValid(refusal)

    def test_the_served_wsdl_points_at_the_server_and_loads_in_zeep(
        self, agency: str, simulator_server: BackgroundServer, sim: SimControl
    ) -> None:
        response = sim.http.get(f"/{agency}/soap", params={"wsdl": ""})
        assert response.status_code == 200
        assert f'location="{simulator_server.base_url}/{agency}/soap"'.encode() in response.content
        # zeep reads what a stranger would: the WSDL fetched over HTTP from the simulator.
        client = zeep.Client(f"{simulator_server.base_url}/{agency}/soap?wsdl")
        operations = {op for b in client.wsdl.bindings.values() for op in b._operations}
        assert operations == {OUR_SERVICES[agency].submit, OUR_SERVICES[agency].query}


@pytest.mark.parametrize("agency", list(BLOCKED))
def test_blocked_parses_with_its_materials(
    agency: str, adapters: Adapters, sim: SimControl
) -> None:
    with pytest.raises(BlockedError) as caught:
        adapters[agency].submit(BLOCKED[agency](), idempotency_key=new_key())
    assert caught.value.code == "material_missing" and caught.value.materials


class TestSoapEndpoint:
    def test_a_malformed_envelope_is_a_client_fault(self, sim: SimControl) -> None:
        response = soap_post(sim, "tax", b"<soap:Envelope><unclosed")
        assert response.status_code == 500
        assert fault_detail(response) == ("soap:Client", "malformed_xml")
        assert b"<tns:field" not in response.content and b"field>" not in response.content

    def test_entities_are_refused_and_never_expanded(self, sim: SimControl) -> None:
        body = (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
            + envelope(
                '<TaxpayerRegistrationQuery xmlns="urn:chinatax:taxpayer-registration:v1">'
                "<requestKey>&secret;</requestKey></TaxpayerRegistrationQuery>"
            )
        )
        response = soap_post(sim, "tax", body)
        assert fault_detail(response) == ("soap:Client", "malformed_xml")
        assert b"root:" not in response.content

    def test_another_content_type_is_refused(self, sim: SimControl) -> None:
        response = sim.http.post("/seal/soap", json={"a": 1})
        assert response.status_code == 415

    def test_an_oversized_envelope_is_refused(self, sim: SimControl) -> None:
        response = soap_post(sim, "seal", b" " * (1024 * 1024 + 1))
        assert response.status_code == 413

    def test_an_unknown_operation_is_refused(self, sim: SimControl) -> None:
        response = soap_post(sim, "seal", envelope('<Hello xmlns="urn:x"/>'))
        assert fault_detail(response) == ("soap:Client", "unknown_operation")

    def test_a_request_outside_the_schema_is_refused_and_not_recorded(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        key = new_key()
        body = envelope(
            '<UnitRegistrationRequest xmlns="urn:mohrss:si-unit-registration:v1">'
            f"<requestKey>{key}</requestKey><uscc>U</uscc><unit_name>n</unit_name>"
            "<region_code>37078</region_code></UnitRegistrationRequest>"
        )
        response = soap_post(sim, "social_insurance", body)
        assert fault_detail(response) == ("soap:Client", "invalid_request")
        assert adapters["social_insurance"].status(key) is None
        assert sim.effects("social_insurance") == {}

    def test_an_outage_is_a_server_fault_with_503(self, sim: SimControl) -> None:
        sim.behave("bank_account", outage=True)
        response = soap_post(sim, "bank_account", envelope("<x/>"))
        assert response.status_code == 503
        assert fault_detail(response)[0] == "soap:Server"

    def test_wsdl_needs_asking_for(self, sim: SimControl) -> None:
        assert sim.http.get("/tax/soap").status_code == 400
