"""A district whose graph has a step of its own, run through the real worker, adapters and
simulators (embedded mode): one declaration of the step, its adapter and its simulator, and
a district whose policy names a graph with it. The graph in force at acceptance stays the
filing's when the policy changes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select
from starlette.applications import Starlette

from integrations.registry import declare_agency, withdraw_agency
from integrations.simulators.engine import AgencySimulator
from integrations.simulators.rest import agency_routes
from integrations.simulators.server import serve_in_thread
from orchestrator import workflow
from orchestrator.filings.agency_requests import BUILDERS, builds
from orchestrator.filings.dispatch import dispatch
from orchestrator.filings.models import Filing, Step, StepStatus
from orchestrator.identity.service import ensure_branch
from orchestrator.reference import loader
from orchestrator.runtime import Runtime
from orchestrator.tools.seed import seed_reference
from tests.district_graph.archive import (
    AGENCY,
    SPEC,
    STEP,
    ArchiveRules,
    adapter_at,
    build_archive,
)
from tests.factories import moved_to
from tests.filings import complete, events, file, wait_for
from tests.people import BranchStaff, filing_as, staff_at

# The district whose policy, in the test's reference data only, runs the archive. One the
# simulated registration authority registers in (it knows the shipped districts alone).
XIANGSHAN = "330225"
GRAPH = "with_archive"


def _reference(directory: Path, *, graph: str) -> Path:
    """The shipped reference data with the archive's graph, Xiangshan's policy running `graph`."""
    for source in loader.DATA_DIR.glob("*.yaml"):
        shutil.copy(source, directory / source.name)
    path = directory / loader.DISTRICTS
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    standard = data["graphs"]["standard"]
    delivery = standard[-1]
    data["graphs"][GRAPH] = [
        *standard[:-1],
        {"step": STEP, "needs": ["registration"]},
        {**delivery, "needs": [*delivery["needs"], STEP]},
    ]
    data["step_budgets"][STEP] = "30m"  # what the tracker predicts with, as for every step
    xiangshan = next(d for d in data["districts"] if d["code"] == XIANGSHAN)
    xiangshan["policy"]["graph"] = graph
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return directory


def _use_reference(directory: Path) -> None:
    loader.DATA_DIR = directory
    loader.load_reference.cache_clear()


@pytest.fixture
def archive(onestop: Runtime) -> Iterator[AgencySimulator]:
    """The archive: its simulator served, its adapter declared, its step declared."""
    sim = AgencySimulator(ArchiveRules, seed=7)
    server = serve_in_thread(Starlette(routes=agency_routes(sim)))
    declare_agency(AGENCY, lambda _url, timeout: adapter_at(server.base_url, timeout))
    workflow.declare(SPEC)
    builds(SPEC)(build_archive)
    onestop.__dict__.pop("adapters", None)  # built again, with the archive's
    try:
        yield sim
    finally:
        BUILDERS.pop(STEP, None)
        workflow.withdraw(STEP)
        withdraw_agency(AGENCY)
        onestop.__dict__.pop("adapters", None)
        server.stop()


@pytest.fixture
def xiangshan(
    onestop: Runtime, branch_staff: BranchStaff, archive: AgencySimulator, tmp_path: Path
) -> Iterator[BranchStaff]:
    """Xiangshan's policy running the archive's graph, a branch there and its clerk."""
    shipped = loader.DATA_DIR
    _use_reference(_reference(tmp_path, graph=GRAPH))
    try:
        with onestop.database.transaction() as session:
            seed_reference(session)
            branch = ensure_branch(
                session, code="XS-ABC-01", name="农业银行象山支行", bank_code="ABC",
                district_code=XIANGSHAN,
            )  # fmt: skip
            clerk = filing_as(branch_staff, staff_at(session, branch, "xs.clerk", "夏珊"))
        yield clerk
    finally:
        _use_reference(shipped)


def _file(rt: Runtime, clerk: BranchStaff) -> tuple[str, list[int]]:
    """File in Xiangshan as its clerk, not dispatched yet: its code and root steps' ids."""
    code = file(rt, clerk, dispatch=False, **moved_to(XIANGSHAN))
    with rt.database.transaction() as session:
        roots = session.scalars(
            select(Step.id)
            .join(Filing)
            .where(Filing.tracking_code == code, Step.status == StepStatus.READY)
        )
        return code, list(roots)


class TestADistrictsOwnStep:
    def test_runs_through_the_real_worker_adapter_and_simulator(
        self, onestop: Runtime, xiangshan: BranchStaff, archive: AgencySimulator
    ) -> None:
        code, roots = _file(onestop, xiangshan)
        dispatch(roots)
        filing = wait_for(onestop, code, complete)

        steps = {s.name: s for s in filing.steps}
        assert [name for name, _ in filing.graph] == [name for name, _ in _graph(GRAPH)]
        assert steps[STEP].status == StepStatus.DONE
        assert steps[STEP].result["archive_no"].startswith("DA")
        order = [(e.kind, e.step) for e in events(onestop, code)]
        # It waited for registration, and delivery waited for it.
        assert order.index(("done", "registration")) < order.index(("started", STEP))
        assert order.index(("done", STEP)) < order.index(("started", workflow.HANDOVER_STEP))
        assert archive.effects() == {f"{code}-{STEP}": 1}  # archived once, under its key
        assert onestop.agencies_url
        with httpx.Client(base_url=onestop.agencies_url, timeout=5) as sim:
            assert sim.get("/_sim/effects").json()["duplicates"] == 0

    def test_a_policy_change_never_rewires_a_filing_under_way(
        self, onestop: Runtime, xiangshan: BranchStaff, tmp_path: Path
    ) -> None:
        under_way, first = _file(onestop, xiangshan)
        # Xiangshan drops the archive from its graph before the filing's steps have run.
        changed = tmp_path / "changed"
        changed.mkdir()
        _use_reference(_reference(changed, graph="standard"))
        after, then = _file(onestop, xiangshan)
        dispatch([*first, *then])

        kept, new = wait_for(onestop, under_way, complete), wait_for(onestop, after, complete)
        assert STEP in {s.name for s in kept.steps}
        assert {s.name: s.status for s in kept.steps}[STEP] == StepStatus.DONE
        assert STEP not in {s.name for s in new.steps}
        assert [name for name, _ in new.graph] == [name for name, _ in _graph("standard")]


def _graph(name: str) -> list[tuple[str, Any]]:
    return [(g.step, g.needs) for g in loader.load_reference().graphs[name]]
