"""The courier (EMS): waybill for the licence original and the seals, then delivery.

While the parcel travels the adapter answers `Pending` with the waybill as its ticket;
once signed for, `Done` with `waybill` and `state` ("delivered").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.adapter import AgencyReply, MappedAdapter
from integrations.requests import CourierRequest

# The courier's tracking states in our words.
STATES: dict[str, str] = {
    "COLLECTED": "picked_up",
    "IN_TRANSIT": "in_transit",
    "SIGNED": "delivered",
}


class _Shipment(AgencyReply):
    waybill_no: str
    state: str


class CourierAdapter(MappedAdapter[CourierRequest]):
    """Books the shipment and follows it to delivery."""

    agency = "courier"

    def to_agency(self, request: CourierRequest) -> dict[str, Any]:
        """The shipment order in the courier's fields."""
        return {
            "sender_ref": request.credit_code,
            "consignee": {
                "name": request.recipient,
                "phone": request.mobile,
                "address": request.address,
            },
            "contents": list(request.items),
            "remark": request.company_name,
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`waybill` and `state`."""
        reply = _Shipment.model_validate(payload)
        state = STATES.get(reply.state)
        if state is None:
            raise ValueError(f"unknown shipment state {reply.state!r}")
        return {"waybill": reply.waybill_no, "state": state}

    def ticket(self, progress: Mapping[str, Any]) -> str:
        """The waybill number, once the courier has issued one."""
        waybill = progress.get("waybill_no")
        return waybill if isinstance(waybill, str) else ""
