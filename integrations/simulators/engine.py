"""What every simulated agency shares: a request store keyed by idempotency key, effects, faults.

An `AgencySimulator` holds one agency's world. The agency's business rules (one module per
agency) decide each new request; the engine makes the decision idempotent, counts the
real-world effects per key, and plays the behaviour a scenario asked for: latency (answer
at once or later), transient errors, outages, and replies lost after the action committed.
The engine knows nothing of HTTP: the wire protocol lives in `integrations.simulators.rest`.

Latency is work, and a `TimeModel` says when work is done. By default every second counts
(plain wall-clock latency); a scenario replay injects one in which back offices work only
in office hours of working days, so a request sent at 16:30 with 3 h of work is ready at
11:30 the next working day. The engine knows no calendar: whoever configures it does.
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
LostReply = Literal["http_500", "drop"]

TimeModel = Callable[[float], float]
"""Given seconds of an agency's work starting now, the seconds until that work is done."""


def wall_clock(work: float) -> float:
    """Every second is a working second: the default time model."""
    return work


class Behaviour(BaseModel):
    """How an agency behaves, as a scenario or a test sets it; defaults: fast and reliable."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    latency_jitter_ms: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, description="Uniform extra latency, 0..jitter."
    )
    latency_log_sigma: float = Field(
        default=0.0,
        ge=0,
        le=5,
        allow_inf_nan=False,
        description="Lognormal spread: latency_ms is then the median, times e^(σ·Z) per request.",
    )
    sync_limit_ms: float = Field(
        default=2000.0,
        ge=0,
        allow_inf_nan=False,
        description="Up to this latency the submit answers with the outcome; beyond, 202.",
    )
    transient_error_rate: float = Field(default=0.0, ge=0, le=1, description="503 before acting.")
    lost_reply_rate: float = Field(
        default=0.0, ge=0, le=1, description="The submit acts and records, then loses its reply."
    )
    lost_reply_mode: Literal["http_500", "drop", "either"] = "either"
    rejection_rate: float = Field(
        default=0.0, ge=0, le=1, description="New requests refused as `simulated_rejection`."
    )
    outage: bool = Field(default=False, description="503 on every agency endpoint.")


@dataclass(frozen=True, slots=True)
class Completed:
    """The agency acted: `result` in its own vocabulary; `subject` names what was acted on."""

    result: Mapping[str, Any]
    subject: str = ""


@dataclass(frozen=True, slots=True)
class Refused:
    """The agency refused on the merits; nothing happened. `fields` are the paths, in the
    application as the agency received it, of what the refusal concerns
    (`legal_representative.cert_no`, `investors.1.cert_no`)."""

    code: str
    message: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Blocked:
    """The agency waits for materials; nothing happened yet."""

    code: str
    message: str
    materials: tuple[str, ...]


Decision = Completed | Refused | Blocked


class InvalidRequest(Exception):
    """The request does not fit the agency's format: answered at once and never recorded."""

    def __init__(self, message: str, *, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse(model: type[ModelT], payload: object) -> ModelT:
    """Validate a request payload against an agency's own model, or raise `InvalidRequest`."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise InvalidRequest(problems) from exc


class AgencyRules(ABC):
    """One agency's business rules and state; the engine calls them under its lock."""

    name: str = ""
    # Whether deciding takes milliseconds of CPU (drawing impressions, signing a licence).
    decides_slowly: ClassVar[bool] = False

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    @abstractmethod
    def decide(self, payload: object) -> Decision:
        """Judge a new request and, if it is `Completed`, perform its effect on the state."""

    def progress(self, result: Mapping[str, Any], fraction: float) -> Mapping[str, Any]:
        """What a status query shows of a completed decision before it is ready (fraction < 1)."""
        return {}

    def queries(self) -> Mapping[str, Callable[[Mapping[str, str]], dict[str, Any]]]:
        """Questions the agency answers without acting (a name check), by path: each reads
        the query's parameters and answers from the state, changing nothing."""
        return {}


@dataclass(slots=True)
class Record:
    """One request as the agency keeps it; `received_at` is when its submit arrived."""

    decision: Decision
    accepted_at: float
    ready_at: float
    received_at: float


@dataclass(frozen=True, slots=True)
class View:
    """What the agency says about a request right now, protocol-neutral."""

    state: Literal["done", "processing", "rejected", "blocked"]
    result: Mapping[str, Any] = field(default_factory=dict)
    retry_after: float = 0.0
    progress: Mapping[str, Any] = field(default_factory=dict)
    code: str = ""
    message: str = ""
    materials: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()  # of a refusal: what it concerns (see `Refused`)


class AgencySimulator:
    """One agency: its rules, its store of requests by idempotency key, effects and behaviour."""

    def __init__(
        self,
        rules_factory: Callable[[random.Random], AgencyRules],
        *,
        behaviour: Behaviour | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        time_model: TimeModel = wall_clock,
    ) -> None:
        self._rules_factory = rules_factory
        self._time_model = time_model
        self._initial_behaviour = behaviour or Behaviour()
        self._seed = seed
        self._clock = clock
        self._lock = threading.Lock()
        self._install_fresh_world()
        self.name = self._rules.name

    def _install_fresh_world(self) -> None:
        self._rules = self._rules_factory(random.Random(f"{self._seed}/rules"))
        self._faults = random.Random(f"{self._seed}/faults/{self._rules.name}")
        self._behaviour = self._initial_behaviour
        self._records: dict[str, Record] = {}
        self._effects: Counter[str] = Counter()
        self._subjects: Counter[str] = Counter()
        # Per key: the record timed and its seconds from the submit's arrival to the outcome.
        self._durations: dict[str, tuple[Record, float]] = {}

    @property
    def decides_slowly(self) -> bool:
        """Whether a submit costs this agency milliseconds of CPU (see `AgencyRules`)."""
        return self._rules.decides_slowly

    def reset(self) -> None:
        """Forget every request and effect; rules, sequences, RNG and behaviour start afresh."""
        with self._lock:
            self._install_fresh_world()

    @property
    def behaviour(self) -> Behaviour:
        """The behaviour in force."""
        return self._behaviour

    @behaviour.setter
    def behaviour(self, value: Behaviour) -> None:
        with self._lock:
            self._behaviour = value

    def roll_unavailable(self) -> bool:
        """Whether this call meets an outage or a transient error (decided before anything)."""
        with self._lock:
            b = self._behaviour
            return b.outage or (
                b.transient_error_rate > 0 and self._faults.random() < b.transient_error_rate
            )

    def roll_lost_reply(self) -> LostReply | None:
        """Whether the reply to a submit that was just recorded gets lost, and how."""
        with self._lock:
            b = self._behaviour
            if b.lost_reply_rate == 0 or self._faults.random() >= b.lost_reply_rate:
                return None
            if b.lost_reply_mode == "either":
                return self._faults.choice(("http_500", "drop"))
            return b.lost_reply_mode

    def now(self) -> float:
        """The agency's clock (seconds): the submit handler stamps a request's arrival with it."""
        return self._clock()

    def accept(self, key: str, payload: object, *, received_at: float | None = None) -> Record:
        """Record a submit under `key`; a key already acted on (or in progress) keeps its record.

        Refusals and blocks are recorded for status queries but do not use the key up: nothing
        happened, so a corrected or supplemented request may come again under the same key.
        Raises `InvalidRequest` (nothing recorded) if the payload does not fit the format.
        `received_at` (default: now) is when the submit arrived, for `durations`.
        """
        with self._lock:
            now = self._clock()
            existing = self._records.get(key)
            if existing is not None and (
                isinstance(existing.decision, Completed) or existing.ready_at > now
            ):
                return existing
            b = self._behaviour
            if b.rejection_rate > 0 and self._faults.random() < b.rejection_rate:
                decision: Decision = Refused(
                    "simulated_rejection", "the scenario told this agency to refuse"
                )
            else:
                decision = self._rules.decide(payload)
            if isinstance(decision, Completed):
                # The one place where the real-world action happens: count it.
                self._effects[key] += 1
                self._subjects[decision.subject or key] += 1
            record = Record(
                decision=decision,
                accepted_at=now,
                ready_at=now + self._time_model(self._work_seconds(b)),
                received_at=now if received_at is None else min(received_at, now),
            )
            self._records[key] = record
            return record

    def _work_seconds(self, b: Behaviour) -> float:
        """One draw of how much work a request takes (seconds), per the behaviour's latency."""
        base = b.latency_ms
        if b.latency_log_sigma and base:
            base *= self._faults.lognormvariate(0, b.latency_log_sigma)
        jitter = self._faults.uniform(0, b.latency_jitter_ms) if b.latency_jitter_ms else 0
        return (base + jitter) / 1000

    def time_outcome(self, key: str, record: Record, *, answered: bool) -> None:
        """Note how long the agency took over `key`, once its outcome is final.

        A submit that waited for the outcome (`answered`) took until now; an outcome found by
        a status query took until it became ready. The first final outcome of a key counts,
        except that a refusal or a block (which leaves the key free) gives way to the next.
        """
        with self._lock:
            now = self._clock()
            timed = self._durations.get(key)
            if now < record.ready_at or (
                timed is not None
                and (timed[0] is record or isinstance(timed[0].decision, Completed))
            ):
                return
            end = now if answered else record.ready_at
            self._durations[key] = (record, max(0.0, end - record.received_at))

    def durations(self) -> dict[str, float]:
        """Milliseconds the agency spent on each key, from the submit's arrival to the outcome."""
        with self._lock:
            return {key: round(s * 1000, 3) for key, (_, s) in self._durations.items()}

    def query(self, path: str, params: Mapping[str, str]) -> dict[str, Any] | None:
        """The agency's answer to the question at `path`; None if it answers no such one."""
        with self._lock:
            answer = self._rules.queries().get(path)
            return None if answer is None else answer(params)

    def lookup(self, key: str) -> Record | None:
        """The record under `key`, if the agency ever recorded one."""
        with self._lock:
            return self._records.get(key)

    def seconds_until_ready(self, record: Record) -> float:
        """Seconds (≥ 0) until the record's outcome is visible."""
        return max(0.0, record.ready_at - self._clock())

    def answers_synchronously(self, record: Record) -> bool:
        """Whether a submit waits for this record's outcome instead of answering 202."""
        return self.seconds_until_ready(record) * 1000 <= self._behaviour.sync_limit_ms

    def view(self, record: Record) -> View:
        """What the agency says about `record` now."""
        now = self._clock()
        decision = record.decision
        if now < record.ready_at:
            progress: Mapping[str, Any] = {}
            if isinstance(decision, Completed):
                span = record.ready_at - record.accepted_at
                fraction = (now - record.accepted_at) / span if span > 0 else 1.0
                with self._lock:
                    progress = self._rules.progress(decision.result, min(max(fraction, 0.0), 1.0))
            return View(
                state="processing",
                retry_after=round(max(record.ready_at - now, 0.001), 3),
                progress=progress,
            )
        if isinstance(decision, Completed):
            return View(state="done", result=decision.result)
        if isinstance(decision, Refused):
            return View(
                state="rejected",
                code=decision.code,
                message=decision.message,
                fields=decision.fields,
            )
        return View(
            state="blocked",
            code=decision.code,
            message=decision.message,
            materials=decision.materials,
        )

    def effects(self) -> dict[str, int]:
        """How many times the real-world action happened, per idempotency key."""
        with self._lock:
            return dict(self._effects)

    def subjects(self) -> dict[str, int]:
        """How many times the action happened per subject (e.g. per credit code), any key."""
        with self._lock:
            return dict(self._subjects)


def duplicates(counts: Mapping[str, int]) -> int:
    """Effects beyond the first, summed over keys."""
    return sum(max(0, n - 1) for n in counts.values())
