"""Every route of the portal as the web process mounts it, visited by a clerk and by a branch
manager of another branch with branch A's real filings, supplement, follow-up and draft (with
its upload) in the path: nothing but a 404, and never branch A's data in the body.

The routes are walked from the application object itself, so a route added later is swept
too; one with a path parameter this test cannot fill, or a route of a kind it does not know,
fails the walk instead of slipping through.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount, compile_path

from orchestrator import runtime
from orchestrator.api.app import web_app
from orchestrator.feedback import service as feedback
from orchestrator.feedback.models import FollowUp
from orchestrator.filings import drafts, supplements
from orchestrator.filings.models import Filing
from orchestrator.filings.uploads import DatabaseStore, store_upload
from orchestrator.identity.models import Branch, Role
from orchestrator.runtime import Runtime
from tests.factories import filing_input
from tests.filings import complete, file, tax_blocked, wait_for
from tests.people import BranchStaff, filing_as, shouguang_branch, staff_at

pytestmark = pytest.mark.databases("sqlite", "postgresql")

PASSWORD = "sweep-password-4"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
MATERIAL = "finance_tax_agents"  # the 容缺 material that carries the finance officer
# Markers of branch A's data that no page of branch B has any business showing.
UPLOAD_NAME = "sweep-a-mandate.pdf"
SUPPLEMENT_NAME = "sweep-a-officer.pdf"
COMMENT = "sweep-a 等了三次"
MANAGER = Role.BRANCH_MANAGER

# The acts in a route's path: which values it takes, by the route's path.
ACTS = {
    "/follow-ups/{follow_up_id}/{act}": ("verify", "put-right", "answer"),
    "/filings/{tracking_code}/supplements/{supplement_id}/{act}": ("confirm", "refuse"),
}
# Routes with no path parameter are about no filing: they answer for the visitor's own branch
# (or send them on), so their answer is not a 404; the body still must not show branch A.
# (method, path) -> the statuses a clerk and a manager of branch B may get, and why.
# (method, path) -> the status a clerk of branch B gets, a manager's, and why.
NOT_ABOUT_A_FILING: dict[tuple[str, str], tuple[int, int, str]] = {
    ("GET", "/login"): (303, 303, "signed in already: sent on to their own queue"),
    ("POST", "/login"): (401, 401, "no password given: the sign-in form again, refused"),
    ("POST", "/logout"): (303, 303, "ends their own session, to the sign-in page"),
    ("POST", "/language"): (303, 303, "their own session's language, back to their queue"),
    ("GET", "/"): (200, 200, "their own branch's queue, searched for branch A's code"),
    ("GET", "/live/queue"): (200, 200, "the same queue's rows, searched for branch A's code"),
    ("GET", "/filings/new"): (200, 200, "the empty form"),
    ("POST", "/filings/new"): (303, 303, "a new draft of their own branch"),
    ("POST", "/names/check"): (422, 422, "an empty name to check: refused, as JSON"),
    # The follow-ups are the manager's: to a clerk the role page is the portal's 404; the
    # manager sees their own branch's, none of branch A's.
    ("GET", "/follow-ups"): (404, 200, "the manager's own branch's follow-ups"),
    ("GET", "/inbox"): (200, 200, "their own notices, none about branch A's filings"),
    ("POST", "/inbox/read"): (303, 303, "marks their own notices read, back to their inbox"),
    # The supervision dashboard is the officers': branch staff get the role page.
    ("GET", "/supervision"): (403, 403, "the dashboard is for officers: the role page"),
    ("GET", "/supervision/export/{name}.csv"): (403, 403, "a figure's CSV: the role page"),
    ("GET", "/supervision/reimbursement/{month}.{kind}"): (403, 403, "a report: the role page"),
    ("POST", "/supervision/reimbursement/{month}/approve"): (403, 403, "not theirs to approve"),
}
# The path parameters of routes about no filing (the district's figures), and their values.
DISTRICT_THINGS = {"name": ["feedback"], "month": ["2024-11"], "kind": ["csv", "pdf"]}

SEARCHED = ("/", "/live/queue")  # the queue's pages, searched for branch A's filing
# Branch A's things a path may name beside a filing's code (a step's name is no one's).
OWN_THINGS = {"supplement_id", "follow_up_id", "draft_id"}


class Unfillable(Exception):
    """A route whose path this test does not know how to fill with branch A's data."""


def portal_of(app: FastAPI) -> FastAPI:
    """The portal application as the web process mounts it at /portal."""
    mounted = [r for r in app.routes if isinstance(r, Mount) and r.path == "/portal"]
    assert len(mounted) == 1, "the web process mounts no portal at /portal"
    portal = mounted[0].app
    assert isinstance(portal, FastAPI)
    return portal


@dataclass(frozen=True)
class Route:
    """A route of the portal as the mounted application serves it."""

    path: str
    methods: frozenset[str]

    @property
    def params(self) -> list[str]:
        """The names of its path parameters, in the path's order."""
        return list(compile_path(self.path)[2])


def portal_routes(app: FastAPI) -> list[Route]:
    """Every route of the mounted portal: each page and form of each router it includes
    (FastAPI keeps an included router's routes behind it, so walked through its contexts)."""
    routes: list[Route] = []
    for context in iter_route_contexts(portal_of(app).routes):
        route = context.original_route
        if isinstance(route, Mount) and route.path == "/static":
            continue  # the vendored stylesheet and scripts: the same files for everyone
        if not isinstance(route, APIRoute) or context.path is None or not context.methods:
            raise Unfillable(f"a route of a kind this test does not sweep: {route!r}")
        routes.append(Route(context.path, frozenset(context.methods)))
    return routes


@dataclass(frozen=True)
class BranchA:
    """Branch A's own things, by the path parameter each fills."""

    blocked_code: str  # waiting for a 容缺 material, with a supplement sent
    complete_code: str  # done and rated 2: a follow-up on its manager's queue
    supplement_id: int
    follow_up_id: int
    draft_id: int  # with an upload
    company_names: tuple[str, ...]

    def markers(self) -> tuple[str, ...]:
        """What would show branch A's data in a body (the names escaped as a page has them)."""
        return (
            self.blocked_code,
            self.complete_code,
            *self.company_names,
            UPLOAD_NAME,
            SUPPLEMENT_NAME,
            COMMENT,
        )


def fillings(route: Route, a: BranchA, own_code: str) -> list[dict[str, Any]]:
    """Every way to fill `route`'s path with branch A's data; Unfillable for a parameter
    this test does not know. With another of branch A's things in the path (a supplement),
    the visitor's own filing's code goes with it, too."""
    names = route.params
    values: dict[str, list[Any]] = {}
    for name in names:
        if name == "tracking_code":
            values[name] = [a.blocked_code, a.complete_code]
            if set(names) & OWN_THINGS:
                values[name].append(own_code)
        elif name == "supplement_id":
            values[name] = [a.supplement_id]
        elif name == "follow_up_id":
            values[name] = [a.follow_up_id]
        elif name == "draft_id":
            values[name] = [a.draft_id]
        elif name == "step_name":
            values[name] = ["tax"]  # the step branch A's blocked filing waits on
        elif name == "act" and route.path in ACTS:
            values[name] = list(ACTS[route.path])
        elif name in DISTRICT_THINGS and route.path.startswith("/supervision/"):
            values[name] = DISTRICT_THINGS[name]
        else:
            raise Unfillable(f"{route.path}: no branch A value for the path parameter {name!r}")
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values.values())]


def requests_of(app: FastAPI, a: BranchA, own_code: str) -> list[tuple[str, str, str]]:
    """(method, route path, URL) for every route and method of the portal, filled."""
    found: list[tuple[str, str, str]] = []
    for route in portal_routes(app):
        for method in sorted(route.methods - {"HEAD"}):
            if not route.params:
                if (method, route.path) not in NOT_ABOUT_A_FILING:
                    raise Unfillable(f"{method} {route.path}: no expected answer stated")
                found.append((method, route.path, f"/portal{route.path}"))
                continue
            for filled in fillings(route, a, own_code):
                found.append((method, route.path, f"/portal{_url_path(route, filled)}"))
    return found


def _url_path(route: Route, filled: Mapping[str, Any]) -> str:
    path = route.path
    for name, value in filled.items():
        path = path.replace(f"{{{name}}}", str(value))
    assert "{" not in path, path
    return path


@dataclass(frozen=True)
class World:
    app: FastAPI
    a: BranchA
    own_code: str  # a filing of branch B, the visitors' own


def _rated_two(rt: Runtime, code: str) -> int:
    """Rate the filing 2; the id of the follow-up it opens on the manager's queue."""
    with rt.database.transaction() as session:
        filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        rating = feedback.rate(session, filing=filing, score=2, comment=COMMENT, now=rt.clock.now())
        session.flush()
        return session.scalars(select(FollowUp.id).where(FollowUp.rating_id == rating.id)).one()


def _supplement_sent(rt: Runtime, code: str) -> int:
    """As the applicant on the tracking page: the finance officer's material, pending."""
    wait_for(rt, code, tax_blocked)
    with rt.database.transaction() as session:
        filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        sent = supplements.submit(
            session,
            DatabaseStore(),
            filing=filing,
            material_code=MATERIAL,
            filename=SUPPLEMENT_NAME,
            content=PDF,
            data={"finance_officer": filing_input()["finance_officer"]},
            now=rt.clock.now(),
        )
        return sent.id


@pytest.fixture(scope="module")
def world(_embedded: Runtime, branch_staff: BranchStaff) -> World:
    """Branch A's filings (one waiting for a supplement sent, one complete and rated 2), its
    draft with an upload; branch B with a clerk, a manager and a filing of its own."""
    rt = runtime.install(_embedded)
    assert rt.agencies_url
    httpx.post(f"{rt.agencies_url}/_sim/reset", timeout=5).raise_for_status()
    with rt.database.transaction() as session:
        branch_a = session.get(Branch, branch_staff.branch_id)
        assert branch_a is not None
        staff_at(session, branch_a, "sweep_clerk_a", "郑红", password=PASSWORD)
        staff_at(session, branch_a, "sweep_manager_a", "冯涛", role=MANAGER, password=PASSWORD)
        branch_b = shouguang_branch(session, "SG-ABC-09", "农业银行寿光稻田支行", "ABC")
        clerk_b = staff_at(session, branch_b, "sweep_clerk_b", "钱磊", password=PASSWORD)
        staff_at(session, branch_b, "sweep_manager_b", "孙燕", role=MANAGER, password=PASSWORD)
        b_staff = replace(filing_as(branch_staff, clerk_b), branch_id=branch_b.id)
        draft = drafts.new_draft(
            session, branch_id=branch_staff.branch_id, staff_id=branch_staff.clerk_id,
            now=rt.clock.now(),
        )  # fmt: skip
        store_upload(session, DatabaseStore(), draft_id=draft.id, material="branch_mandate",
                     filename=UPLOAD_NAME, content=PDF, staff_id=branch_staff.clerk_id,
                     now=rt.clock.now())  # fmt: skip
        draft_id = draft.id
    blocked = file(rt, branch_staff, finance_officer=None)
    done = file(rt, branch_staff)
    own = file(rt, b_staff)
    supplement_id = _supplement_sent(rt, blocked)
    wait_for(rt, done, complete)
    follow_up_id = _rated_two(rt, done)
    with rt.database.reading() as session:
        names = session.scalars(
            select(Filing.company_name).where(Filing.tracking_code.in_((blocked, done)))
        ).all()
    settings = rt.settings.model_copy(update={"rate_limit_portal_new_sessions": "10000/minute"})
    a = BranchA(blocked, done, supplement_id, follow_up_id, draft_id, tuple(names))
    return World(web_app(settings), a, own)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


class Visitor:
    """A browser of one member of staff: signed in before each request, whatever the last
    one did to the session (the logout route ends it)."""

    def __init__(self, client: TestClient, username: str) -> None:
        self.client, self.username = client, username

    def token(self) -> str:
        """The CSRF token of the visitor's live, signed-in session."""
        home = self.client.get("/portal/", follow_redirects=False)
        if home.status_code != 200:
            login = _csrf(self.client.get("/portal/login").text)
            data = {"username": self.username, "password": PASSWORD, "csrf_token": login}
            signed = self.client.post("/portal/login", data=data, follow_redirects=False)
            assert signed.status_code == 303, signed.text[:500]
            home = self.client.get("/portal/", follow_redirects=False)
        assert home.status_code == 200 and self.username not in ("", None)
        return _csrf(home.text)

    def request(self, method: str, url: str, search: str = "") -> httpx.Response:
        token = self.token()
        if method == "GET":
            params = {"q": search} if search else {}
            return self.client.get(url, params=params, follow_redirects=False)
        assert method == "POST", method
        form = {"csrf_token": token, "material": MATERIAL, "reason": "x", "note": "x"}
        return self.client.post(
            url,
            data=form,
            files={"file": ("x.pdf", PDF, "application/pdf")},
            follow_redirects=False,
        )


def _leaks(answer: httpx.Response, a: BranchA) -> list[str]:
    """Branch A's data in the answer, beyond what the visitor sent: a page repeats its own
    address (the language form comes back to it) and the words searched for."""
    body = answer.content.decode("utf-8", "replace")
    sent = answer.request.url
    here = sent.path + (f"?{sent.query.decode()}" if sent.query else "")
    body = body.replace(html.escape(here), "").replace(here, "")
    searched = sent.params.get("q")
    if searched:
        for echo in (f'value="{searched}"', f"q={searched}"):
            body = body.replace(echo, "")
    return [m for m in a.markers() if m in body or html.escape(m) in body]


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(world.app) as c:
        yield c


@pytest.mark.parametrize("role", ["clerk", "manager"])
def test_another_branch_finds_nothing_on_any_route(
    world: World, client: TestClient, role: str
) -> None:
    visitor = Visitor(client, f"sweep_{role}_b")
    requests = requests_of(world.app, world.a, world.own_code)
    wrong: list[str] = []
    for method, path, url in requests:
        # Where a page searches, it is searched for branch A's filing (ignored elsewhere).
        search = world.a.blocked_code if method == "GET" and path in SEARCHED else ""
        answer = visitor.request(method, url, search)
        if (method, path) in NOT_ABOUT_A_FILING:
            clerk, manager, _why = NOT_ABOUT_A_FILING[(method, path)]
            expected = clerk if role == "clerk" else manager
        else:
            expected = 404
        leaked = _leaks(answer, world.a)
        if answer.status_code != expected or leaked:
            wrong.append(f"{method} {url}: {answer.status_code} (not {expected}) {leaked}")
    assert not wrong, "\n".join(wrong)
    # Each kind of thing of branch A was in some path: the walk was not vacuous.
    urls = " ".join(url for _m, _p, url in requests)
    for value in (world.a.supplement_id, world.a.follow_up_id, world.a.draft_id):
        assert f"/{value}/" in urls or urls.endswith(f"/{value}")
    assert world.a.complete_code in urls and world.a.blocked_code in urls


def test_branch_as_own_staff_reach_the_same_things(world: World, client: TestClient) -> None:
    """The values swept are real: branch A's clerk reaches each page of them, and its
    manager's queue offers the follow-up."""
    clerk = Visitor(client, "sweep_clerk_a")
    missed: list[str] = []
    for route in portal_routes(world.app):
        if "GET" not in route.methods or not route.params:
            continue
        if ("GET", route.path) in NOT_ABOUT_A_FILING:  # the district's, not branch A's
            continue
        answers = {}
        for filled in fillings(route, world.a, world.a.blocked_code):
            url = f"/portal{_url_path(route, filled)}"
            answers[url] = clerk.request("GET", url).status_code
        if 200 not in answers.values():
            missed.append(f"{route.path}: {answers}")
    assert not missed, missed
    with TestClient(world.app) as other:
        manager = Visitor(other, "sweep_manager_a")
        manager.token()
        queue = other.get("/portal/follow-ups")
        assert f"/follow-ups/{world.a.follow_up_id}/verify" in queue.text


def test_a_route_the_sweep_cannot_fill_fails_it() -> None:
    """A new route with a path parameter of a new kind, or one with none and no answer
    stated, is not skipped: the walk refuses it."""
    a = BranchA("OSAAAAAAAAAA", "OSBBBBBBBBBB", 1, 2, 3, ("某公司",))
    for path in ("/widgets/{widget_id}", "/widgets", "/filings/{tracking_code}/{act}"):
        portal = FastAPI()
        portal.add_api_route(path, lambda: None, methods=["GET"])
        app = FastAPI()
        app.mount("/portal", portal)
        with pytest.raises(Unfillable):
            requests_of(app, a, "OSCCCCCCCCCC")
