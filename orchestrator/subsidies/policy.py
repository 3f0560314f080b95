"""What a district's policy makes free for a filing, item by item, priced and with its vendor.

A filing's items are the seals it wants that the district pays for its industry, and the
courier parcel if it is couriered and the district pays for that. Each is priced at the
district's price when the filing is accepted; the reservation keeps that amount, so a later
change of prices or policy never changes what a filing under way was promised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from integrations.requests import SealKind
from orchestrator.reference import SEAL_KINDS, DistrictPolicy
from orchestrator.workflow import DELIVERY, SEAL

# Who is reimbursed: the agency of the step that does the work (the engraver engraves the
# seals in step `seal`, the courier carries the parcel in step `delivery`).
SEAL_VENDOR = SEAL.agency
COURIER_VENDOR = DELIVERY.agency
VENDOR_LABELS: dict[str, tuple[str, str]] = {
    SEAL_VENDOR: ("印章刻制单位", "Seal engraver"),
    COURIER_VENDOR: ("寄递企业（EMS）", "Courier (EMS)"),
}

COURIER_ITEM = "courier"
_SEAL_PREFIX = "seal:"
ITEM_LABELS: dict[str, tuple[str, str]] = {
    f"{_SEAL_PREFIX}official": ("公章", "Official seal"),
    f"{_SEAL_PREFIX}finance": ("财务专用章", "Finance seal"),
    f"{_SEAL_PREFIX}invoice": ("发票专用章", "Invoice seal"),
    f"{_SEAL_PREFIX}legal_representative": ("法定代表人名章", "Legal representative's seal"),
    COURIER_ITEM: ("证照寄递", "Courier of licence and seals"),
}


@dataclass(frozen=True)
class Item:
    """One thing the district pays for: `code` ("seal:official", "courier"), its vendor and
    its price in fen."""

    code: str
    vendor: str
    amount_fen: int


def seal_item(kind: SealKind) -> str:
    """The item code of a seal kind."""
    return _SEAL_PREFIX + kind


def free_items(
    policy: DistrictPolicy, *, industry_code: str, seals: Iterable[str], couriered: bool
) -> tuple[Item, ...]:
    """What `policy` pays for a new firm of `industry_code` that wants `seals` and has licence
    and seals couriered (`couriered`) or collects them at the branch; in seal-kind order."""
    wanted = set(seals)
    free = policy.subsidies.free_seals(industry_code)
    items = [
        Item(seal_item(kind), SEAL_VENDOR, policy.prices.seals_fen[kind])
        for kind in SEAL_KINDS
        if kind in free and kind in wanted
    ]
    if couriered and policy.subsidies.courier_free:
        items.append(Item(COURIER_ITEM, COURIER_VENDOR, policy.prices.parcel_fen))
    return tuple(items)


def items_of_filing(policy: DistrictPolicy, payload: Mapping[str, Any]) -> tuple[Item, ...]:
    """`free_items` of a filing as accepted (its stored payload)."""
    return free_items(
        policy,
        industry_code=str(payload["industry_code"]),
        seals=payload["seals"],
        couriered=payload["delivery"]["method"] == "courier",
    )
