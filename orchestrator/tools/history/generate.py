"""Drawing a history: filings with their steps, 容缺 materials, events, ratings,
follow-ups and subsidy ledger entries, as rows ready to copy, and the supervision summary
and subsidy months they add up to.

Every instant is drawn on a `WorkingAxis`: filings are accepted in office hours spread
evenly over the period, each step starts when the steps it waits for (and the 容缺
material it needs) are done and lasts a working time drawn from the reference durations
(REFERENCE.md: typical and slow tail per agency). What has not happened by `now` has not:
those filings are open, their steps waiting, blocked, or with the agency.

Subsidies follow each district's policy: a filing's free items are reserved at acceptance
and settled at completion. Batches are drawn apart (in any order, by any process), so each
holds its share of every month's budget (its filings' share of the history) and grants
within it, first drawn first served; past it, the firm pays (a fallback entry).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from orchestrator.feedback.models import FollowUpStatus
from orchestrator.feedback.service import BAD_SCORE
from orchestrator.filings.models import FilingStatus, MaterialStatus, SlaState, StepStatus
from orchestrator.reference import ReferenceData
from orchestrator.subsidies.ledger import period_of
from orchestrator.subsidies.models import EntryKind
from orchestrator.subsidies.policy import Item, items_of_filing
from orchestrator.supervision.models import FILING_SUBJECT
from orchestrator.supervision.tally import Tally
from orchestrator.tools.history.axis import WorkingAxis
from orchestrator.tools.history.payloads import (
    GIVEN_NAMES,
    SURNAMES,
    TRADE_SYLLABLES,
    Template,
    credit_code,
    payload,
    person_id,
    templates,
)
from orchestrator.workflow import HANDOVER_STEP, Graph

_MINUTE = 60
_HOUR = 3600

# Working minutes per step: (typical from, typical to, slow tail up to), from REFERENCE.md.
# Where the bank account is split, its opening is the short last part.
STEP_MINUTES: dict[str, tuple[int, int, int]] = {
    "registration": (30, 60, 180),
    "seal": (60, 90, 240),
    "bank_account": (30, 60, 180),
    "bank_precheck": (15, 30, 60),
    "seal_design": (10, 20, 60),
    "tax": (30, 60, 180),
    "social_insurance": (15, 30, 120),
    "medical_insurance": (15, 30, 120),
    "housing_fund": (15, 30, 120),
    # courier of licence and seals: same or next working day, slow tail 2 working days
    "delivery": (60, 7 * 60, 14 * 60),
}
SPLIT_BANK_ACCOUNT = (15, 30, 120)
SLOW_TAIL = 0.06  # share of steps in the slow tail
MISSING_SHARE = 0.15  # filings accepted with one 容缺 material missing
NEVER_SUPPLIED = 0.05  # of those, materials still missing today (if the filing is recent)
REJECTED_SHARE = 0.02  # filings with one step rejected, corrected and resubmitted
RATED_SHARE = 0.35  # completed filings their applicant rated
SCORES = ((5, 0.70), (4, 0.16), (3, 0.07), (2, 0.04), (1, 0.03))
# Branch managers answer a follow-up within a few days; younger ones may still be open.
ANSWERED_AFTER = timedelta(days=4)


@dataclass(frozen=True)
class Desk:
    """A branch the history files at: its id, district, clerk and templates."""

    branch_id: int
    district_code: str
    clerk_id: int
    clerk: str  # how events name the clerk: "staff:<username>"
    templates: dict[str | None, Template]


@dataclass
class Batch:
    """Rows of each table, with ids given, ready to copy."""

    filings: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    materials: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    ratings: list[tuple[Any, ...]] = field(default_factory=list)
    follow_ups: list[tuple[Any, ...]] = field(default_factory=list)
    subsidy_entries: list[tuple[Any, ...]] = field(default_factory=list)
    # (district, month) -> [committed, settled] in fen: what the batch adds to each month.
    subsidy_months: dict[tuple[str, str], list[int]] = field(default_factory=dict)


FILING_COLUMNS = (
    "id", "tracking_code", "district_code", "branch_id", "created_by", "company_name",
    "status", "payload", "graph", "credit_code", "accepted_at", "sla_working_days",
    "deadline_at", "ready_at", "completed_at", "sla_state",
)  # fmt: skip
STEP_COLUMNS = (
    "id", "filing_id", "name", "position", "status", "pending_needs", "attempts",
    "next_check_at", "started_at", "finished_at", "result", "reason",
)  # fmt: skip
MATERIAL_COLUMNS = (
    "id", "filing_id", "code", "status", "blocks", "due_at", "supplied_at", "reminded_at",
    "overdue_at",
)  # fmt: skip
EVENT_COLUMNS = ("filing_id", "step", "at", "actor", "kind", "detail")
RATING_COLUMNS = ("id", "filing_id", "round", "score", "comment", "created_at")
SUBSIDY_ENTRY_COLUMNS = (
    "filing_id", "district_code", "period", "item", "vendor", "kind", "closing", "amount_fen",
    "at", "actor",
)  # fmt: skip
FOLLOW_UP_COLUMNS = (
    "filing_id", "branch_id", "rating_id", "status", "opened_at", "verified_at",
    "verified_by", "finding", "put_right_at", "put_right_by", "remedy", "answered_at",
    "answered_by", "answer",
)  # fmt: skip

_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE_SPACE = len(_CODE_ALPHABET) ** 10
_CODE_MULTIPLIER = 387_420_489_000_017  # coprime with 31**10: a bijection, codes spread


def tracking_code(filing_id: int) -> str:
    """A tracking code unique to `filing_id` (a bijection), looking as random as live ones."""
    n = (filing_id * _CODE_MULTIPLIER) % _CODE_SPACE
    chars = []
    for _ in range(10):
        n, digit = divmod(n, len(_CODE_ALPHABET))
        chars.append(_CODE_ALPHABET[digit])
    return "OS" + "".join(chars)


@dataclass(frozen=True)
class _Plan:
    """A district's graph, flattened for drawing: names, needs by index, material blocks."""

    graph_json: str
    names: tuple[str, ...]
    needs: tuple[tuple[int, ...], ...]
    minutes: tuple[tuple[int, int, int], ...]
    sla_days: float
    handover: int


def _plan(graph: Graph, sla_days: float) -> _Plan:
    names = tuple(name for name, _ in graph.steps)
    split = "bank_precheck" in names
    minutes = tuple(
        SPLIT_BANK_ACCOUNT if (n == "bank_account" and split) else STEP_MINUTES[n] for n in names
    )
    return _Plan(
        graph_json=json.dumps(graph.to_json()),
        names=names,
        needs=tuple(tuple(names.index(n) for n in needs) for _, needs in graph.steps),
        minutes=minutes,
        sla_days=sla_days,
        handover=names.index(HANDOVER_STEP),
    )


class History:
    """Draws filings at the given desks over the working time up to `now`."""

    def __init__(
        self,
        *,
        reference: ReferenceData,
        axis: WorkingAxis,
        now: datetime,
        desks: Sequence[Desk],
    ) -> None:
        """Ready to draw batches."""
        self.axis, self.now, self.desks = axis, now, desks
        self.now_position = axis.position(now)
        self.random = random.Random()
        self.tally = Tally(day_seconds=axis.day_seconds)
        self.plans = {
            code: _plan(reference.graph_of(code), reference.districts[code].policy.sla_working_days)
            for code in {d.district_code for d in desks}
        }
        self.materials = {
            m.code: (m, m.supplement_deadline_working_days or 5)
            for m in reference.materials.values()
            if m.kind == "may_be_supplemented"
        }
        self.policies = {code: reference.districts[code].policy for code in self.plans}
        self._items: dict[int, tuple[Item, ...]] = {}  # by template (their items are alike)
        self.budget_share = 1.0

    @property
    def most_steps(self) -> int:
        """The most steps a filing of these desks has."""
        return max(len(plan.names) for plan in self.plans.values())

    def batch(
        self, ids: dict[str, int], count: int, *, seed: int, budget_share: float = 1.0
    ) -> tuple[Batch, Tally]:
        """`count` filings drawn from `seed`, their ids from `ids[table]` on (advanced past
        what is used), and the summary they add up to: the same seed, the same batch. The
        batch grants subsidies within `budget_share` of each month's budget."""
        self.random = random.Random(seed)
        self.budget_share = budget_share
        self.tally = Tally(day_seconds=self.axis.day_seconds)
        out = Batch()
        for _ in range(count):
            self._filing(out, ids)
        return out, self.tally

    def _duration(self, bounds: tuple[int, int, int]) -> int:
        low, high, tail = bounds
        r = self.random
        if r.random() < SLOW_TAIL:
            return r.randint(high * _MINUTE, tail * _MINUTE)
        return r.randint(low * _MINUTE, high * _MINUTE)

    def _filing(self, out: Batch, ids: dict[str, int]) -> None:
        r, axis, now_at = self.random, self.axis, self.now_position
        desk = self.desks[r.randrange(len(self.desks))]
        plan = self.plans[desk.district_code]
        filing_id = ids["filing"]
        ids["filing"] += 1
        accepted = r.randrange(0, now_at)
        accepted_at = axis.instant(accepted)
        # A 容缺 material missing at intake, and when (if ever) it is supplied.
        missing: str | None = None
        blocked: set[int] = set()
        supplied = 0
        if r.random() < MISSING_SHARE:
            missing = r.choice([c for c in desk.templates if c is not None])
            material, due_days = self.materials[missing]
            blocked = {i for i, n in enumerate(plan.names) if n in material.needed_by}
            roll = r.random()
            if roll < NEVER_SUPPLIED:
                supplied = now_at + 1  # still missing
            elif roll < 0.75:
                supplied = accepted + r.randint(10 * _MINUTE, axis.day_seconds)
            else:
                supplied = accepted + r.randint(axis.day_seconds, due_days * axis.day_seconds)
        rejected = r.randrange(len(plan.names)) if r.random() < REJECTED_SHARE else -1
        # Each step from when it may start (its needs done, its material in) to its end.
        starts: list[int] = []
        ends: list[int] = []
        for i, needs in enumerate(plan.needs):
            start = max([accepted, *(ends[n] for n in needs)])
            if i in blocked:
                start = max(start, supplied)
            length = self._duration(plan.minutes[i])
            if i == rejected:  # the branch corrects and resubmits within the day or next
                length += r.randint(_HOUR, 2 * axis.day_seconds)
            starts.append(start)
            ends.append(start + length)
        ready = starts[plan.handover]
        complete = ends[plan.handover]
        status = (
            FilingStatus.COMPLETE
            if complete <= now_at
            else FilingStatus.READY
            if ready <= now_at
            else FilingStatus.ACCEPTED
        )
        day_seconds = axis.day_seconds
        deadline = accepted + round(plan.sla_days * day_seconds)
        deadline_at = axis.ending(deadline)
        sla_state = _sla_state(ready, deadline, now_at)
        ready_at = axis.instant(ready) if ready <= now_at else None
        completed_at = axis.instant(complete) if complete <= now_at else None
        accepted_day = accepted_at.date()
        trade = r.choice(TRADE_SYLLABLES) + r.choice(TRADE_SYLLABLES)
        template = desk.templates[missing]
        person = r.choice(SURNAMES) + r.choice(GIVEN_NAMES)
        # Few distinct birth dates and numbers: their check characters are then computed
        # once each (`gb11643_check_char` remembers the recent ones).
        birth = date(1965 + r.randrange(30), 1 + r.randrange(12), 8)
        mobile = f"13{r.randrange(10**9):09d}"
        registered = ends[0] <= now_at
        facts = payload(
            template,
            trade=trade,
            name=person,
            mobile=mobile,
            id_number=person_id(desk.district_code, birth, 131),
            on=accepted_day,
        )
        out.filings.append(
            (
                filing_id,
                tracking_code(filing_id),
                desk.district_code,
                desk.branch_id,
                desk.clerk_id,
                f"{template.region}{trade}农业科技有限公司",
                status.value,
                facts,
                plan.graph_json,
                credit_code(desk.district_code, filing_id) if registered else None,
                accepted_at,
                plan.sla_days,
                deadline_at,
                ready_at,
                completed_at,
                sla_state.value,
            )
        )
        event = out.events.append
        event(
            (filing_id, None, accepted_at, desk.clerk, "accepted", _accepted(deadline_at, missing))
        )
        items = self._items.get(id(template))
        if items is None:
            items = items_of_filing(self.policies[desk.district_code], json.loads(facts))
            self._items[id(template)] = items
        self._subsidies(out, desk, filing_id, items, accepted_at, completed_at)
        # The steps as they stand now.
        for i, name in enumerate(plan.names):
            start, end = starts[i], ends[i]
            waiting = 0
            started_at = finished_at = reason = None
            result: str | None = None
            if end > now_at:  # counted only for steps not done: most are
                waiting = sum(1 for n in plan.needs[i] if ends[n] > now_at)
            if end <= now_at:
                step_status = StepStatus.DONE
                started_at, finished_at = axis.instant(start), axis.instant(end)
                result = "{}"
                self.tally.time(
                    finished_at.date(), desk.district_code, desk.branch_id, name, end - start,
                    hist=False,
                )  # fmt: skip
            elif waiting:
                step_status = StepStatus.WAITING
            elif i in blocked and supplied > now_at:
                step_status = StepStatus.BLOCKED
                reason = f"等待补齐容缺材料 {missing}"
            elif start <= now_at:
                step_status = StepStatus.SUBMITTED
                started_at = axis.instant(start)
            else:  # its needs are done, its turn has not come: queued
                step_status = StepStatus.READY
            out.steps.append(
                (
                    ids["step"], filing_id, name, i, step_status.value, waiting,
                    1 if started_at else 0, None, started_at, finished_at, result, reason,
                )
            )  # fmt: skip
            ids["step"] += 1
            if i == rejected and end <= now_at:
                event((filing_id, name, axis.instant(start + 1), "worker", "action_required", "{}"))
        if missing is not None:
            material, due_days = self.materials[missing]
            due = accepted + due_days * day_seconds
            due_at = axis.ending(due)
            supplied_at = axis.instant(supplied) if supplied <= now_at else None
            # Past due and never supplied: the tracker dealt with it then (a reminder, the
            # branch told), so a tracker started on this history does not do it again now.
            dealt_with = due_at if supplied_at is None and due <= now_at else None
            out.materials.append(
                (
                    ids["material"],
                    filing_id,
                    missing,
                    (MaterialStatus.SUPPLEMENTED if supplied_at else MaterialStatus.MISSING).value,
                    json.dumps([plan.names[i] for i in sorted(blocked)]),
                    due_at,
                    supplied_at,
                    dealt_with,
                    dealt_with,
                )
            )
            ids["material"] += 1
            if supplied_at is not None:
                detail = json.dumps({"material": missing, "changed": {}})
                event((filing_id, None, supplied_at, desk.clerk, "material_supplemented", detail))
        if ready_at is not None:
            event((filing_id, None, ready_at, "worker", "filing_ready", "{}"))
            self.tally.time(
                ready_at.date(), desk.district_code, desk.branch_id, FILING_SUBJECT,
                ready - accepted, hist=True,
            )  # fmt: skip
        if completed_at is not None:
            event((filing_id, None, completed_at, "worker", "complete", "{}"))
            if r.random() < RATED_SHARE:
                self._rating(out, ids, desk, filing_id, completed_at)

    def _subsidies(
        self,
        out: Batch,
        desk: Desk,
        filing_id: int,
        items: tuple[Item, ...],
        accepted_at: datetime,
        completed_at: datetime | None,
    ) -> None:
        """Reserve the filing's free items (or book the fallback), and settle them if done."""
        if not items:
            return
        district, total = desk.district_code, sum(item.amount_fen for item in items)
        month = out.subsidy_months.setdefault((district, period_of(accepted_at)), [0, 0])
        budget = (self.policies[district].subsidies.budget_fen or 0) * self.budget_share
        granted = month[0] + total <= budget
        kind = EntryKind.RESERVED if granted else EntryKind.FALLBACK

        def book(item: Item, kind: EntryKind, period: str, at: datetime, actor: str) -> None:
            closing = kind == EntryKind.SETTLED
            out.subsidy_entries.append(
                (filing_id, district, period, item.code, item.vendor, kind.value, closing,
                 item.amount_fen, at, actor)
            )  # fmt: skip

        for item in items:
            book(item, kind, period_of(accepted_at), accepted_at, desk.clerk)
        if not granted:
            return
        month[0] += total
        if completed_at is None:
            return
        settled_in = period_of(completed_at)
        out.subsidy_months.setdefault((district, settled_in), [0, 0])[1] += total
        for item in items:
            book(item, EntryKind.SETTLED, settled_in, completed_at, "worker")

    def _rating(
        self, out: Batch, ids: dict[str, int], desk: Desk, filing_id: int, completed_at: datetime
    ) -> None:
        r = self.random
        rated_at = completed_at + timedelta(seconds=r.randint(600, 2 * 86_400))
        if rated_at > self.now:
            return
        roll, score = r.random(), 1
        for value, share in SCORES:
            if roll < share:
                score = value
                break
            roll -= share
        rating_id = ids["rating"]
        ids["rating"] += 1
        out.ratings.append((rating_id, filing_id, 1, score, "", rated_at))
        self.tally.rating(rated_at.date(), desk.district_code, desk.branch_id, score)
        if score > BAD_SCORE:
            return
        manager = desk.clerk
        verified = rated_at + timedelta(hours=r.randint(1, 24))
        answered = rated_at + timedelta(hours=r.randint(25, 90))
        row: tuple[Any, ...]
        if answered + ANSWERED_AFTER <= self.now:
            row = (
                FollowUpStatus.ANSWERED.value, rated_at, verified, manager, "已核实",
                verified, manager, "已整改", answered, manager, "已回复申请人",
            )  # fmt: skip
        elif verified <= self.now:
            row = (
                FollowUpStatus.VERIFIED.value, rated_at, verified, manager, "已核实",
                None, None, None, None, None, None,
            )  # fmt: skip
        else:
            row = (FollowUpStatus.OPEN.value, rated_at, *([None] * 9))
        out.follow_ups.append((filing_id, desk.branch_id, rating_id, *row))


def _sla_state(ready: int, deadline: int, now: int) -> SlaState:
    """The SLA state the tracker would have settled on by `now` (seconds on the axis)."""
    if ready <= now:
        return SlaState.MET if ready <= deadline else SlaState.MISSED
    return SlaState.BREACHED if deadline <= now else SlaState.ON_TRACK


def _accepted(deadline_at: datetime, missing: str | None) -> str:
    return json.dumps(
        {
            "deadline_at": deadline_at.isoformat(),
            "deadline_provisional": False,
            "materials_to_supplement": [missing] if missing else [],
        }
    )


def desk_templates(
    reference: ReferenceData, desks: Sequence[tuple[int, str, int, str, str]]
) -> Iterator[Desk]:
    """Desks from (branch id, district, clerk id, clerk username, bank code) rows."""
    cache: dict[tuple[str, str], dict[str | None, Template]] = {}
    for branch_id, district, clerk_id, clerk, bank in desks:
        key = (district, bank)
        if key not in cache:
            cache[key] = templates(reference, district, bank)
        yield Desk(branch_id, district, clerk_id, f"staff:{clerk}", cache[key])
