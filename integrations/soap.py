"""The SOAP channel to an agency (zeep over httpx): the one place that knows that wire format.

Each SOAP agency publishes a document/literal SOAP 1.1 service (`integrations/wsdl/*.wsdl`)
with two operations: a submit carrying `requestKey` (our idempotency key) with the request,
and a query by `requestKey`. Both answer the same reply element:

    <requestKey/> and one of  <done>result</done>
                              <processing><retry_after/><progress/>?</processing>
                              <unknown/>                    (query only: key never seen)

    soap:Client fault, detail <Refusal><code/><message/><field/>*   -> RejectedError
    soap:Client fault, detail <MaterialsMissing><code/><message/>
                                      <material/>+            -> BlockedError
Anything else — soap:Server faults, HTTP statuses other than 200 and 500, timeouts, connection
errors, XML that is malformed or truncated, the wrong content type, a reply over the size limit
or one that does not fit the schema — is a `TransientError`: the orchestrator retries, and asks
`status` first. A refusal's `field`s are paths into the request the agency refused, in its
names (`employee.1.cert_no`); the adapter reads them as paths into ours (`field_names`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, NoReturn, Unpack

import httpx
import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.helpers import serialize_object
from zeep.wsdl import Document

from integrations.adapter import Finished, Processing, Reply
from integrations.base import AgencyError, BlockedError, RejectedError, TransientError
from integrations.http_replies import (
    AgencyHttp,
    HttpOptions,
    drain,
    media_type,
    wrong_content_type,
)

WSDL_DIR = Path(__file__).parent / "wsdl"
# SOAP 1.1 carries faults with HTTP 500; any other status is not a SOAP answer.
_SOAP_STATUSES = frozenset({200, 500})
_SETTINGS = zeep.Settings(strict=True, xml_huge_tree=False, forbid_dtd=True)


@dataclass(frozen=True)
class SoapService:
    """One agency's SOAP service: its WSDL on disk and its two operations' names."""

    agency: str
    wsdl: str  # file name under integrations/wsdl/
    submit: str
    query: str


class _DiskOnly(zeep.Transport):
    """Loads WSDL documents from integrations/wsdl/ and nothing from the network."""

    def __init__(self) -> None:
        super().__init__(session=requests.Session())

    def load(self, url: str) -> bytes:
        path = Path(url)
        if not path.is_absolute() or WSDL_DIR not in path.parents:
            raise ValueError(f"the WSDL refers to {url!r}: only files under {WSDL_DIR} load")
        return path.read_bytes()


@cache
def wsdl_document(name: str) -> Document:
    """The parsed WSDL `name`, read from disk once per process and shared by every client."""
    transport: Any = _DiskOnly()  # zeep's annotation asks for the class; it uses an instance
    return Document(str(WSDL_DIR / name), transport, settings=_SETTINGS)


class HttpxTransport(zeep.Transport):
    """zeep's transport over a pooled `httpx.Client`: explicit timeouts, size and type checks.

    Failures that are not SOAP answers raise `TransientError` here, before zeep sees them.
    """

    def __init__(self, http: AgencyHttp) -> None:
        super().__init__(session=requests.Session())
        self.agency = http.agency
        self.http = http

    def load(self, url: str) -> bytes:
        raise ValueError(f"{self.agency}: documents load from disk only, not {url!r}")

    def post(
        self, address: httpx.URL | str, message: bytes, headers: Mapping[str, str]
    ) -> requests.Response:
        """POST the envelope; the reply comes back as the `requests.Response` zeep reads."""
        with self.http.stream("POST", address, content=message, headers=headers) as reply:
            if reply.status_code not in _SOAP_STATUSES:
                drain(reply)
                raise TransientError(
                    f"{self.agency}: HTTP {reply.status_code}", code=f"http_{reply.status_code}"
                )
            if media_type(reply) != "text/xml":
                raise wrong_content_type(self.agency, "text/xml", reply)
            body = self.http.read(reply)
        response = requests.Response()
        response._content = body
        response.status_code = reply.status_code
        response.headers.update(reply.headers.multi_items())  # one pass, not a lookup per name
        response.encoding = reply.encoding
        return response


def plain(value: object) -> Any:
    """zeep's objects as plain dicts, lists and scalars (Decimal as int or float)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class SoapChannel:
    """One agency's SOAP service at `{base_url}/{agency}/soap`."""

    def __init__(self, base_url: str, service: SoapService, **http: Unpack[HttpOptions]) -> None:
        self.agency = service.agency
        self._service_names = service
        self._transport = HttpxTransport(AgencyHttp(service.agency, accept="text/xml", **http))
        self._client = zeep.Client(
            wsdl_document(service.wsdl), transport=self._transport, settings=_SETTINGS
        )
        self.address = f"{base_url.rstrip('/')}/{service.agency}/soap"
        self._url = httpx.URL(self.address)  # parsed once, not on every call
        binding: Any = next(iter(self._client.wsdl.bindings.values()))
        self._binding = binding
        self._service = self._client.create_service(binding.name, self.address)
        self._namespace = str(binding.name.namespace)

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str) -> Reply:
        """Submit the payload under the key; an `unknown` answer here is not one we understand."""
        reply = self._call(self._service_names.submit, {"requestKey": idempotency_key, **payload})
        if reply is None:
            raise TransientError(
                f"{self.agency}: the agency says it never saw the request it was just sent",
                code="unexpected_reply",
            )
        return reply

    def query(self, idempotency_key: str) -> Reply | None:
        """The request's state; None if the agency answers `unknown`."""
        return self._call(self._service_names.query, {"requestKey": idempotency_key})

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.http.close()

    def _call(self, operation: str, values: Mapping[str, Any]) -> Reply | None:
        try:
            envelope = self._client.create_message(self._service, operation, **values)
        except (zeep.exceptions.Error, ValueError, TypeError, AttributeError) as exc:
            raise RejectedError(
                f"{self.agency}: the request does not fit the agency's schema ({exc})",
                code="invalid_request",
            ) from exc
        binding_operation = self._binding.get(operation)
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{binding_operation.soapaction}"',
        }
        response = self._transport.post_xml(self._url, envelope, headers)
        try:
            result = self._binding.process_reply(self._client, binding_operation, response)
        except zeep.exceptions.Fault as fault:
            self._raise_fault(fault)
        except AgencyError:
            raise
        except (
            zeep.exceptions.Error,
            etree.LxmlError,
            ValueError,
            ArithmeticError,
            TypeError,
            LookupError,
            AttributeError,
        ) as exc:  # malformed, truncated or off-schema XML: zeep's and lxml's complaints
            raise TransientError(
                f"{self.agency}: the reply is not one the schema allows ({exc!r})"[:500],
                code="unexpected_reply",
            ) from exc
        return self._interpret(result)

    def _interpret(self, result: object) -> Reply | None:
        done = getattr(result, "done", None)
        processing = getattr(result, "processing", None)
        unknown = getattr(result, "unknown", None)
        if sum(part is not None for part in (done, processing, unknown)) != 1:
            raise TransientError(
                f"{self.agency}: a reply that is neither done, processing nor unknown",
                code="unexpected_reply",
            )
        if done is not None:
            return Finished(payload=plain(serialize_object(done, dict)))
        if processing is not None:
            retry_after = processing.retry_after
            if not isinstance(retry_after, Decimal) or not retry_after.is_finite():
                raise TransientError(
                    f"{self.agency}: processing without a usable retry_after",
                    code="unexpected_reply",
                )
            progress = plain(serialize_object(processing.progress, dict)) or {}
            return Processing(retry_after=max(0.0, float(retry_after)), progress=progress)
        return None

    def _raise_fault(self, fault: zeep.exceptions.Fault) -> NoReturn:
        code = (fault.code or "").rpartition(":")[2]
        detail = fault.detail if isinstance(fault.detail, etree._Element) else None
        if code == "Client" and detail is not None:
            refusal = detail.find(f"{{{self._namespace}}}Refusal")
            if refusal is not None:
                reason, message = self._texts(refusal)
                fields = tuple(
                    path
                    for node in refusal.iterfind(f"{{{self._namespace}}}field")
                    if (path := (node.text or "").strip())
                )
                raise RejectedError(message, code=reason, fields=fields)
            missing = detail.find(f"{{{self._namespace}}}MaterialsMissing")
            if missing is not None:
                reason, message = self._texts(missing)
                materials = tuple(
                    (m.text or "").strip()
                    for m in missing.iterfind(f"{{{self._namespace}}}material")
                )
                if materials and all(materials):
                    raise BlockedError(message, code=reason, materials=materials)
        raise TransientError(
            f"{self.agency}: SOAP fault {fault.code or '(no code)'}: {fault.message}"[:500],
            code="soap_fault",
        )

    def _texts(self, node: etree._Element) -> tuple[str, str]:
        reason = (node.findtext(f"{{{self._namespace}}}code") or "").strip()
        message = (node.findtext(f"{{{self._namespace}}}message") or "").strip()
        if not reason or not message:
            raise TransientError(
                f"{self.agency}: a fault detail without code or message", code="unexpected_reply"
            )
        return reason, message
