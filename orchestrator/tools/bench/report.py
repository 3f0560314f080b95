"""What a benchmark run measured: the report, its quantiles and the critical path through
the agencies that each filing's end-to-end time is compared with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from orchestrator.filings.transitions import idempotency_key
from orchestrator.tools.percentiles import percentile
from orchestrator.workflow import by_name


@dataclass(frozen=True)
class Quantiles:
    """p50/p95/p99 of a sample (None when the sample is empty)."""

    p50: float | None
    p95: float | None
    p99: float | None

    @classmethod
    def of(cls, values: Sequence[float], *, digits: int = 1) -> Quantiles:
        """Quantiles by linear interpolation between closest ranks."""
        if not values:
            return cls(None, None, None)
        return cls(*(round(percentile(values, q), digits) for q in (50, 95, 99)))


@dataclass
class BenchReport:
    """The figures of one run; `as_json` is the documented machine-readable shape."""

    filings: int  # acknowledged by the API
    requested: int
    unacknowledged: int
    in_database: int
    completed: int
    lost: int
    duplicate_effects: int
    filings_per_s: float | None
    overhead_ms: Quantiles
    e2e_over_critical_path: Quantiles
    e2e_ms: Quantiles
    critical_path_ms: Quantiles
    untimed: int  # complete filings with a step the agencies did not time
    submit_seconds: float
    accepted_per_s: float | None
    api_ms: Quantiles
    agency_latency_ms: float
    rate: float | None
    workers: int | None
    worker_threads: int | None = None
    host_reference_s: float | None = None  # see host_reference_seconds
    cpu: dict[str, float] = field(default_factory=dict)  # CPU ms per filing, by process kind
    lost_codes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing done twice, everything acknowledged."""
        return self.lost == 0 and self.duplicate_effects == 0 and self.unacknowledged == 0

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON object."""
        return {
            "filings": self.filings,
            "filings_per_s": _rounded(self.filings_per_s, 2),
            "overhead_ms": _q(self.overhead_ms, "p50", "p95", "p99"),
            "e2e_over_critical_path": _q(self.e2e_over_critical_path, "p50", "p95"),
            "lost": self.lost,
            "duplicate_effects": self.duplicate_effects,
            "e2e_ms": _q(self.e2e_ms, "p50", "p95", "p99"),
            "critical_path_ms": _q(self.critical_path_ms, "p50", "p95", "p99"),
            "requested": self.requested,
            "unacknowledged": self.unacknowledged,
            "in_database": self.in_database,
            "completed": self.completed,
            "untimed": self.untimed,
            "submit_s": round(self.submit_seconds, 2),
            "accepted_per_s": _rounded(self.accepted_per_s, 2),
            "api_ms": _q(self.api_ms, "p50", "p95", "p99"),
            "agency_latency_ms": self.agency_latency_ms,
            "rate": self.rate,
            "workers": self.workers,
            "worker_threads": self.worker_threads,
            "host_reference_s": self.host_reference_s,
            "cpu_ms_per_filing": self.cpu,
        }


def _q(quantiles: Quantiles, *names: str) -> dict[str, float | None]:
    return {name: getattr(quantiles, name) for name in names}


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def critical_path_ms(
    durations: Mapping[str, float], steps: Sequence[tuple[str, Sequence[str]]]
) -> float | None:
    """The longest path through a filing's graph, each step weighted by its duration (ms).

    `steps` are the graph's (name, needs) in topological order; None if a step has no
    duration.
    """
    finish: dict[str, float] = {}
    for name, needs in steps:
        if name not in durations:
            return None
        start = max((finish[need] for need in needs), default=0.0)
        finish[name] = start + durations[name]
    return max(finish.values(), default=0.0)


def step_durations(
    tracking_code: str,
    agency_durations: Mapping[str, Mapping[str, float]],
    steps: Sequence[tuple[str, Sequence[str]]],
) -> dict[str, float]:
    """Each step's duration (ms) as its agency measured it, found by idempotency key."""
    found: dict[str, float] = {}
    for name, _ in steps:
        agency = by_name()[name].agency
        ms = agency_durations.get(agency, {}).get(idempotency_key(tracking_code, name))
        if ms is not None:
            found[name] = ms
    return found


def table(report: BenchReport) -> Table:
    """The report for people."""
    out = Table(title="onestop bench", show_header=True, header_style="bold")
    out.add_column("measure")
    out.add_column("value", justify="right")

    def q(quantiles: Quantiles, unit: str = "") -> str:
        parts = [
            f"{name} {value:g}{unit}"
            for name in ("p50", "p95", "p99")
            if (value := getattr(quantiles, name)) is not None
        ]
        return " · ".join(parts) or "—"

    rate = f"{report.rate:g}/s" if report.rate else "as fast as accepted"
    out.add_row("filings (acknowledged / requested)", f"{report.filings} / {report.requested}")
    out.add_row("agency latency · arrival rate", f"{report.agency_latency_ms:g} ms · {rate}")
    workers = "running deployment"
    if report.workers:
        workers = f"{report.workers} × {report.worker_threads or '?'} threads"
    out.add_row("workers", workers)
    if report.host_reference_s is not None:
        out.add_row("host speed (reference loop; lower is faster)", f"{report.host_reference_s} s")
    out.add_row(
        "throughput",
        f"{report.filings_per_s:.1f} filings/s" if report.filings_per_s else "—",
    )
    out.add_row("accepted by the API", f"{report.accepted_per_s or 0:.1f}/s")
    out.add_row("API POST latency", q(report.api_ms, " ms"))
    out.add_row("end to end", q(report.e2e_ms, " ms"))
    out.add_row("critical path (agencies)", q(report.critical_path_ms, " ms"))
    out.add_row("overhead = e2e − critical path", q(report.overhead_ms, " ms"))
    out.add_row("e2e ÷ critical path", q(report.e2e_over_critical_path))
    out.add_row("lost", str(report.lost), style="red" if report.lost else None)
    out.add_row(
        "duplicate agency effects",
        str(report.duplicate_effects),
        style="red" if report.duplicate_effects else None,
    )
    if report.unacknowledged:
        out.add_row("not acknowledged by the API", str(report.unacknowledged), style="red")
    if report.untimed:
        out.add_row("complete but untimed by the agencies", str(report.untimed))
    parts = {k: v for k, v in report.cpu.items() if not k.endswith("_pct")}
    if parts:
        out.add_row(
            "CPU per filing", " · ".join(f"{kind} {ms:g} ms" for kind, ms in sorted(parts.items()))
        )
    if "machine_busy_pct" in report.cpu:
        out.add_row(
            "machine busy (ours)",
            f"{report.cpu['machine_busy_pct']:g}% ({report.cpu.get('ours_pct', 0):g}%)",
        )
    if report.cpu.get("stolen_pct"):
        out.add_row("CPU stolen by the hypervisor", f"{report.cpu['stolen_pct']:g}%")
    return out
