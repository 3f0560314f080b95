"""The SOAP agencies' wire protocol, served over an `AgencySimulator`.

    POST /{agency}/soap         a SOAP 1.1 envelope (text/xml) whose body is the submit or the
                                query element of the agency's WSDL (`integrations/wsdl/`)
    GET  /{agency}/soap?wsdl    that WSDL, its service address pointing at this server

    200  reply element: requestKey and one of done / processing / unknown (query only)
    500  soap:Fault  soap:Client + detail Refusal (rejected, invalid or malformed request),
                     with a `field` per path into the request it concerns, if the rules say
                     soap:Client + detail MaterialsMissing (blocked)
                     soap:Server (a reply lost after the action committed)
    503  soap:Fault  soap:Server (outage, transient error)

Envelopes are parsed with lxml without entity resolution, DTDs or network, under a size
limit, and validated against the schema in the WSDL before the agency sees them; replies are
validated against it too, so a simulator can never answer off-schema by mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from integrations.simulators.engine import AgencySimulator, InvalidRequest, View
from integrations.simulators.exchange import (
    MAX_BODY_BYTES,
    DropConnection,
    carry_out,
    lost_reply,
)

WSDL_DIR = Path(__file__).resolve().parents[1] / "wsdl"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
CONTENT_TYPE = "text/xml; charset=utf-8"
KEY = "requestKey"


def safe_parser() -> etree.XMLParser:
    """An XML parser that resolves no entity, loads no DTD and reaches no network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=True,
    )


@dataclass(frozen=True)
class SoapService:
    """One agency's published service: its WSDL file and the elements its operations take."""

    wsdl: str
    submit: str  # local name of the submit operation's body element
    query: str
    reply: str

    @cached_property
    def document(self) -> etree._ElementTree:
        """The WSDL as published (parsed once)."""
        return etree.parse(str(WSDL_DIR / self.wsdl), safe_parser())

    @cached_property
    def namespace(self) -> str:
        """The agency's target namespace."""
        return str(self.document.getroot().get("targetNamespace"))

    @cached_property
    def schema(self) -> etree.XMLSchema:
        """The schema inside the WSDL's types, for requests and replies alike."""
        node = self.document.find(f"{{{WSDL}}}types/{{{XSD}}}schema")
        if node is None:
            raise ValueError(f"{self.wsdl} holds no schema")
        return etree.XMLSchema(node)

    @cached_property
    def repeated(self) -> frozenset[str]:
        """Names of elements that may occur more than once: they always read as lists."""
        return frozenset(
            str(e.get("name"))
            for e in self.document.iter(f"{{{XSD}}}element")
            if e.get("maxOccurs", "1") != "1"
        )

    def qname(self, local: str) -> str:
        """`local` in the agency's namespace."""
        return f"{{{self.namespace}}}{local}"

    def wsdl_at(self, address: str) -> bytes:
        """The WSDL with its service address set to `address`."""
        copy = etree.fromstring(etree.tostring(self.document), safe_parser())
        for node in copy.iter(f"{{{WSDL_SOAP}}}address"):
            node.set("location", address)
        return bytes(etree.tostring(copy, xml_declaration=True, encoding="UTF-8"))


# The published services of the SOAP agencies, by simulator name.
SOAP_SERVICES: dict[str, SoapService] = {
    "seal": SoapService("seal.wsdl", "SealFilingRequest", "SealFilingQuery", "SealFilingReply"),
    "bank_account": SoapService(
        "bank_account.wsdl",
        "AccountApplication",
        "AccountApplicationQuery",
        "AccountApplicationReply",
    ),
    "tax": SoapService(
        "tax.wsdl",
        "TaxpayerRegistrationRequest",
        "TaxpayerRegistrationQuery",
        "TaxpayerRegistrationReply",
    ),
    "social_insurance": SoapService(
        "social_insurance.wsdl",
        "UnitRegistrationRequest",
        "UnitRegistrationQuery",
        "UnitRegistrationReply",
    ),
}


class ClientFault(Exception):
    """A request the agency refuses as it stands: a soap:Client fault with a Refusal."""

    def __init__(self, code: str, message: str, *, status_code: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status_code = status_code


def to_python(node: etree._Element, repeated: frozenset[str]) -> Any:
    """An element's content as dicts, lists (for repeatable elements) and strings."""
    children = list(node)
    if not children:
        return node.text or ""
    content: dict[str, Any] = {}
    for child in children:
        name = etree.QName(child).localname
        value = to_python(child, repeated)
        if name in repeated:
            content.setdefault(name, []).append(value)
        else:
            content[name] = value
    return content


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    return str(value)


def append(parent: etree._Element, qname: str, value: object) -> None:
    """Write `value` under `parent` as element(s) `qname`: mappings nest, lists repeat."""
    if value is None:
        return
    if isinstance(value, list | tuple):
        for item in value:
            append(parent, qname, item)
        return
    node = etree.SubElement(parent, qname)
    if isinstance(value, Mapping):
        namespace = etree.QName(qname).namespace
        for name, item in value.items():
            append(node, f"{{{namespace}}}{name}", item)
    else:
        node.text = _text(value)


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    return envelope, etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")


def _xml(status_code: int, envelope: etree._Element) -> Response:
    body = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    return Response(content=body, status_code=status_code, media_type=CONTENT_TYPE)


def fault(
    status_code: int,
    code: str,
    message: str,
    detail: tuple[SoapService, str, Mapping[str, Any]] | None = None,
) -> Response:
    """A soap:Fault reply; `detail` is (service, element name, content) when there is one."""
    envelope, body = _envelope()
    node = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(node, "faultcode").text = f"soap:{code}"
    etree.SubElement(node, "faultstring").text = message
    if detail is not None:
        service, name, content = detail
        holder = etree.SubElement(node, "detail")
        append(holder, service.qname(name), dict(content))
        service.schema.assertValid(holder[0])
    return _xml(status_code, envelope)


def refusal(
    service: SoapService,
    code: str,
    message: str,
    *,
    status_code: int = 500,
    fields: tuple[str, ...] = (),
) -> Response:
    """A soap:Client fault carrying a Refusal, naming `fields` (paths into the request)."""
    content: dict[str, Any] = {"code": code, "message": message}
    if fields:  # an optional element: a refusal that concerns no one field goes without
        content["field"] = list(fields)
    return fault(status_code, "Client", message, (service, "Refusal", content))


def server_fault(status_code: int, message: str) -> Response:
    """A soap:Server fault: the caller should try again later."""
    return fault(status_code, "Server", message)


def render(service: SoapService, key: str, view: View | None) -> Response:
    """The reply for what the agency says about a request (None: it never saw the key)."""
    if view is not None and view.state == "rejected":
        return refusal(service, view.code, view.message, fields=view.fields)
    if view is not None and view.state == "blocked":
        content = {"code": view.code, "message": view.message, "material": list(view.materials)}
        return fault(500, "Client", view.message, (service, "MaterialsMissing", content))
    envelope, body = _envelope()
    reply = etree.SubElement(body, service.qname(service.reply), nsmap={"tns": service.namespace})
    append(reply, service.qname(KEY), key)
    if view is None:
        append(reply, service.qname("unknown"), f"no request under key {key}")
    elif view.state == "done":
        append(reply, service.qname("done"), dict(view.result))
    else:
        processing: dict[str, Any] = {"retry_after": view.retry_after}
        if view.progress:
            processing["progress"] = dict(view.progress)
        append(reply, service.qname("processing"), processing)
    service.schema.assertValid(reply)
    return _xml(200, envelope)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _body_element(service: SoapService, request: Request) -> etree._Element:
    """The one element inside the envelope's Body, validated; raises `ClientFault`."""
    if _media_type(request) != "text/xml":
        raise ClientFault("unsupported_media_type", "send text/xml (SOAP 1.1)", status_code=415)
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ClientFault(
            "too_large", f"requests are limited to {MAX_BODY_BYTES} bytes", status_code=413
        )
    try:
        tree = etree.fromstring(raw, safe_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise ClientFault("malformed_xml", f"the body is not well-formed XML: {exc}") from exc
    if getattr(tree.docinfo, "doctype", ""):
        raise ClientFault("malformed_xml", "document type declarations are not accepted")
    root = tree.getroot()
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if root.tag != f"{{{SOAP_ENV}}}Envelope" or body is None:
        raise ClientFault("malformed_envelope", "expected a SOAP 1.1 Envelope with a Body")
    elements = [child for child in body if isinstance(child.tag, str)]
    if len(elements) != 1:
        raise ClientFault("malformed_envelope", "the Body must hold exactly one element")
    element = elements[0]
    if element.tag not in (service.qname(service.submit), service.qname(service.query)):
        raise ClientFault("unknown_operation", f"no operation takes {element.tag}")
    if not service.schema.validate(element):
        errors: Any = service.schema.error_log  # iterable; lxml-stubs do not say so
        problems = "; ".join(str(e.message) for e in list(errors)[:3])
        raise ClientFault("invalid_request", f"the request does not fit the schema: {problems}")
    return element


def soap_routes(sim: AgencySimulator, service: SoapService) -> list[Route]:
    """The SOAP endpoint of one agency, at `/{agency}/soap` (plain Starlette routes, as
    `integrations.simulators.rest.agency_routes` says why); GET with ?wsdl for the WSDL."""
    service.schema  # noqa: B018 - a broken WSDL fails at start, not at the first request

    async def wsdl(request: Request) -> Response:
        if "wsdl" not in request.query_params:
            return Response("ask for ?wsdl", status_code=400, media_type="text/plain")
        address = f"{str(request.base_url).rstrip('/')}/{sim.name}/soap"
        return Response(service.wsdl_at(address), media_type=CONTENT_TYPE)

    async def endpoint(request: Request) -> Response:
        received_at = sim.now()
        if sim.roll_unavailable():
            return server_fault(503, f"{sim.name} is temporarily unavailable")
        try:
            element = await _body_element(service, request)
        except ClientFault as refused:
            return refusal(service, refused.code, refused.message, status_code=refused.status_code)
        key = str(element.findtext(service.qname(KEY)))
        if element.tag == service.qname(service.query):
            record = sim.lookup(key)
            if record is None:
                return render(service, key, None)
            sim.time_outcome(key, record, answered=False)
            return render(service, key, sim.view(record))
        payload = to_python(element, service.repeated)
        del payload[KEY]
        try:
            submitted = await carry_out(sim, key, payload, received_at=received_at)
        except InvalidRequest as exc:
            return refusal(service, exc.code, exc.message)
        lost = lost_reply(
            sim,
            server_error=lambda: server_fault(500, "internal error"),
            dropped=lambda: DropConnection(CONTENT_TYPE, b'<?xml version="1.0"?><soap:Env'),
        )
        return lost or render(service, key, sim.view(submitted))

    path = f"/{sim.name}/soap"
    return [Route(path, wsdl, methods=["GET"]), Route(path, endpoint, methods=["POST"])]
