"""The clerks' side of a replayed filing: what they filed, what came back, and their desk.

Each clerk files at the scheduled instant with their own bearer token and an
Idempotency-Key, watches the filing through the API, supplements a 容缺 material once a
step waits for it, and hands licence and seals over at the counter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import httpx

from orchestrator.reference import load_reference
from orchestrator.tools.scenarios.models import ScheduledFiling
from orchestrator.tools.scenarios.people import Branch
from orchestrator.workflow import HANDOVER_STEP


@dataclass
class Tracked:
    """One scenario filing as the clerk who files it sees it (through the API)."""

    number: int
    plan: ScheduledFiling
    branch_name: str
    clerk_name: str
    idempotency_key: str
    tracking_code: str | None = None
    detail: dict[str, Any] | None = None  # the API's latest view of it
    refused: str | None = None  # why the branch could not file it at all
    failure: str | None = None  # why a clerk's action on it failed
    supplemented: list[str] = field(default_factory=list)
    handed_over: bool = False
    attempted: set[str] = field(default_factory=set)  # clerk actions tried (each once)

    @property
    def company_name(self) -> str:
        """The full registered name (区划 + 字号 + 行业 + 组织形式)."""
        return self.plan.filing.company_name.full

    @property
    def status(self) -> str:
        """The filing's status; `scheduled` before it is filed, `refused` if it never was."""
        if self.refused is not None:
            return "refused"
        return "scheduled" if self.detail is None else str(self.detail["status"])

    @property
    def finished(self) -> bool:
        """Nothing more will happen to it unless a person decides something new."""
        return self.failure is not None or self.status in (
            "complete",
            "action_required",
            "cancelled",
            "refused",
        )

    def steps(self) -> dict[str, dict[str, Any]]:
        """The filing's steps by name (none before it is filed)."""
        return {s["name"]: s for s in self.detail["steps"]} if self.detail else {}

    def result(self, step: str) -> dict[str, Any]:
        """What the agency of `step` answered ({} until the step is done)."""
        return dict(self.steps().get(step, {}).get("result") or {})


class Notes(Protocol):
    """Where the replay reports what clerks and agencies do (a line each, or nothing)."""

    def add(self, icon: str, tracked: Tracked | None, text: str, style: str = "") -> None:
        """`📝 张丽 受理 filed OS… · 寿光市禾丰蔬菜种植有限公司`."""


class ClerkDesk:
    """The clerks at their counters: each files, looks and acts with their own token."""

    def __init__(self, client: httpx.Client, tokens: Mapping[str, str], notes: Notes) -> None:
        self._client = client
        self._tokens = tokens
        self._notes = notes

    def _headers(self, tracked: Tracked, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._tokens[tracked.plan.clerk_username]}", **extra}

    def _post(
        self, tracked: Tracked, url: str, *, headers: Mapping[str, str] = {}, **kwargs: Any
    ) -> httpx.Response:
        """POST, retried after a lost connection or a 5xx: every POST here may be repeated."""
        for attempt in range(1, 4):
            try:
                response = self._client.post(
                    url, headers=self._headers(tracked, **headers), **kwargs
                )
            except httpx.TransportError:
                if attempt == 3:
                    raise
            else:
                if response.status_code < 500 or attempt == 3:
                    return response
            time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def file(self, tracked: Tracked) -> None:
        """File as the clerk would: their token, and the filing's own Idempotency-Key."""
        try:
            response = self._post(
                tracked,
                "/api/v1/filings",
                json=tracked.plan.filing.model_dump(mode="json"),
                headers={"Idempotency-Key": tracked.idempotency_key},
            )
        except httpx.TransportError as error:
            tracked.refused = f"API unreachable: {error}"
            return
        if response.status_code not in (200, 201):
            tracked.refused = api_error(response)
            self._notes.add("✘", tracked, f"受理被拒 refused: {tracked.refused}", "red")
            return
        tracked.detail = response.json()
        tracked.tracking_code = tracked.detail["tracking_code"]
        deadline = datetime.fromisoformat(tracked.detail["deadline_at"])
        missing = [
            material_name(m["code"])
            for m in tracked.detail["materials"]
            if m["status"] == "missing"
        ]
        self._notes.add(
            "📝",
            tracked,
            f"受理 filed {tracked.tracking_code}, 承诺 due {deadline:%H:%M}"
            + (f", 容缺 to supplement: {'、'.join(missing)}" if missing else ""),
        )

    def look(self, tracked: Tracked) -> None:
        """Refresh the filing from the API; a failed look is simply made again next time."""
        try:
            response = self._client.get(
                f"/api/v1/filings/{tracked.tracking_code}", headers=self._headers(tracked)
            )
        except httpx.TransportError:
            return
        if response.status_code == 200:
            tracked.detail = response.json()

    def act(self, tracked: Tracked) -> None:
        """Do what only a person can: supplement what a step waits for; hand over at the branch."""
        steps = tracked.steps()
        blocked = {name for name, step in steps.items() if step["status"] == "blocked"}
        for material in (tracked.detail or {}).get("materials", []):
            code = material["code"]
            if material["status"] == "missing" and blocked.intersection(material["blocks"]):
                # The data a material carries is already in the filing: the paper is what lacked.
                done = self._once(
                    tracked,
                    f"supplement:{code}",
                    f"/api/v1/filings/{tracked.tracking_code}/materials/{code}",
                    {"data": {}},
                    partial(_supplied, code=code),
                )
                if done:
                    tracked.supplemented.append(code)
                    self._notes.add(
                        "✍",
                        tracked,
                        f"补正材料 supplemented {material_name(code)} ({code})",
                        "cyan",
                    )
        if steps.get(HANDOVER_STEP, {}).get("status") == "at_branch":
            done = self._once(
                tracked,
                "handover",
                f"/api/v1/filings/{tracked.tracking_code}/handover",
                None,
                _handed_over,
            )
            if done:
                tracked.handed_over = True
                self._notes.add("🤝", tracked, "交付证照印章 handed licence and seals over", "blue")

    def _once(
        self,
        tracked: Tracked,
        action: str,
        url: str,
        body: dict[str, Any] | None,
        achieved: Callable[[Tracked], bool],
    ) -> bool:
        """POST `action` unless already done; True if it took effect now."""
        if action in tracked.attempted:
            return False
        tracked.attempted.add(action)
        try:
            response = self._post(tracked, url, json=body)
        except httpx.TransportError:
            tracked.attempted.discard(action)  # try again on the next look
            return False
        if response.status_code == 200:
            tracked.detail = response.json()
            return True
        if response.status_code == 409:
            # A retried POST whose first attempt took effect (reply lost) says "conflict".
            self.look(tracked)
            if achieved(tracked):
                return True
        tracked.failure = api_error(response)
        self._notes.add("✘", tracked, f"操作失败 action failed: {tracked.failure}", "red")
        return False


def _supplied(tracked: Tracked, *, code: str) -> bool:
    materials = (tracked.detail or {}).get("materials", [])
    return any(m["code"] == code and m["status"] == "supplemented" for m in materials)


def _handed_over(tracked: Tracked) -> bool:
    return tracked.steps().get(HANDOVER_STEP, {}).get("status") == "done"


def api_error(response: httpx.Response) -> str:
    """The API's bilingual error message (with the fields it names), or the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "message_en" not in body:
        return f"HTTP {response.status_code}"
    fields = [f"{e.get('field')}: {e.get('message_en')}" for e in body.get("errors") or []]
    return f"{body.get('message_zh')} / {body['message_en']}" + (
        f" ({'; '.join(fields)})" if fields else ""
    )


def material_name(code: str) -> str:
    found = load_reference().materials.get(code)
    return found.name_zh if found is not None else code


def branch_label(branch: Branch) -> str:
    """`中国农业银行寿光市支行营业部` → `ABC 支行营业部`: bank code, then what sets it apart."""
    reference = load_reference()
    name = branch.name
    bank = reference.banks.get(branch.bank_code)
    if bank is not None and name.startswith(bank.name_zh):
        name = name[len(bank.name_zh) :]
    district = reference.districts.get(branch.district_code)
    for region in sorted(district.name_regions if district else (), key=len, reverse=True):
        if name.startswith(region) and len(name) > len(region) + 1:
            name = name[len(region) :]
            break
    return f"{branch.bank_code} {name}"
