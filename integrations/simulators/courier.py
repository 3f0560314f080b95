"""The simulated courier (EMS): a waybill for the licence and the seals, then delivery.

The waybill is issued at once (UPU S10 format with its check digit); while the shipment
travels, status shows it COLLECTED, then IN_TRANSIT; SIGNED (delivered) is the final outcome.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from integrations.simulators.checks import MOBILE_PATTERN, Sequence, WireModel, credit_code_problem
from integrations.simulators.engine import AgencyRules, Completed, Decision, Refused, parse

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_check_digit(serial8: str) -> str:
    """Check digit of a UPU S10 item identifier from its 8-digit serial."""
    c = 11 - sum(int(d) * w for d, w in zip(serial8, _S10_WEIGHTS, strict=True)) % 11
    return "0" if c == 10 else "5" if c == 11 else str(c)


class ConsigneeIn(WireModel):
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(pattern=MOBILE_PATTERN)
    address: str = Field(min_length=5, max_length=200)


class ShipmentIn(WireModel):
    """What the courier accepts: a shipment order."""

    sender_ref: str = Field(min_length=1, max_length=32)
    consignee: ConsigneeIn
    contents: list[str] = Field(min_length=1)
    remark: str = Field(default="", max_length=200)


class CourierRules(AgencyRules):
    """Issues waybills; delivery takes the agency's latency."""

    name = "courier"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._serials = Sequence(rng, start_below=10**7)

    def decide(self, payload: object) -> Decision:
        """Accept the shipment and issue its waybill."""
        order = parse(ShipmentIn, payload)
        if problem := credit_code_problem(order.sender_ref):
            return Refused("invalid_sender", problem)
        serial = f"{self._serials.take() % 10**8:08d}"
        waybill = f"EA{serial}{s10_check_digit(serial)}CN"
        return Completed(
            result={"waybill_no": waybill, "state": "SIGNED"}, subject=order.sender_ref
        )

    def progress(self, result: Mapping[str, Any], fraction: float) -> Mapping[str, Any]:
        """Collected in the first half of the way, in transit in the second."""
        state = "COLLECTED" if fraction < 0.5 else "IN_TRANSIT"
        return {"waybill_no": result["waybill_no"], "state": state}
