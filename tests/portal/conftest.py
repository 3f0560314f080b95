"""The portal served from the embedded OneStop, its branches, staff and filings, and one
Debian Chromium driven by Playwright for the whole session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy import select, update

from integrations.simulators.server import serve_in_thread
from orchestrator import runtime
from orchestrator.api.app import web_app
from orchestrator.filings.models import Filing
from orchestrator.identity.sessions import set_password
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from tests import services
from tests.faults.soak import free_port
from tests.filings import file
from tests.leaks import for_the_applicant, shown, unmasked_mobiles, unmasked_resident_ids
from tests.people import BranchStaff, filing_as, shouguang_branch, staff_at

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "artifacts" / "portal"
CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium in a container: no sandbox (no user namespaces), nothing fetched behind
# the test's back, no first-run dialogs.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "correct-horse-battery"
CJK = re.compile(r"[\u4e00-\u9fff]")
# The page's text but for what is shown as it came (data-raw: names).
OUR_TEXT = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll("[data-raw]").forEach((element) => element.remove());
    return body.textContent;
}"""
SCRIPT_NAME = "禾丰<script>window.__pwned = 1</script>农业科技有限公司"


@dataclass(frozen=True)
class PortalWorld:
    """Where the portal answers, who may sign in, and which filings each branch has."""

    url: str
    rt: Runtime
    clerk: str  # of branch A
    other_clerk: str  # of branch B
    officer: str
    locked_clerk: str  # for the lockout test alone: its failures count against it
    own_codes: tuple[str, ...]  # branch A's filings
    own_names: tuple[str, ...]
    other_code: str  # branch B's filing
    script_code: str  # branch A's filing whose name carries a <script> tag

    def login_url(self) -> str:
        return f"{self.url}/portal/login"


@pytest.fixture(scope="session")
def portal(_embedded: Runtime, branch_staff: BranchStaff) -> Iterator[PortalWorld]:
    """The web process (API and portal) of the embedded OneStop, served on a local port."""
    rt = runtime.install(_embedded)
    with rt.database.transaction() as session:
        other = shouguang_branch(session, "SG-ABC-02", "农业银行寿光城区支行", "ABC")
        other_clerk = staff_at(session, other, "portal_other", "周强")
        locked = staff_at(session, other, "portal_locked", "吴敏")
        for username in ("wangfang", "portal_other", "portal_locked", "zhaojing"):
            set_password(session, username, PASSWORD)
        other_staff = filing_as(branch_staff, other_clerk)
        locked_name = locked.username
    # Trade names no other test's generator makes: a search for one finds its filing alone,
    # whatever else the same clerk filed earlier in the session.
    own = [file(rt, branch_staff, trade_name=name) for name in ("瑞霖", "璟瑜", "珂琪")]
    theirs = file(rt, other_staff)
    with rt.database.transaction() as session:  # a name no form accepts, in the database
        session.execute(
            update(Filing).where(Filing.tracking_code == own[-1]).values(company_name=SCRIPT_NAME)
        )
        names = session.scalars(
            select(Filing.company_name)
            .where(Filing.tracking_code.in_(own[:-1]))
            .order_by(Filing.id)
        ).all()
    # Every browser of the run opens its sessions from 127.0.0.1, faster than anyone would.
    settings = rt.settings.model_copy(update={"rate_limit_portal_new_sessions": "10000/minute"})
    server = serve_in_thread(web_app(settings))
    try:
        yield PortalWorld(
            url=server.base_url,
            rt=rt,
            clerk="wangfang",
            other_clerk="portal_other",
            officer="zhaojing",
            locked_clerk=locked_name,
            own_codes=tuple(own),
            own_names=tuple(names),
            other_code=theirs,
            script_code=own[-1],
        )
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (`make test` installs the package), one for the whole session."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make test` installs it (Debian package chromium)"
        if services.IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def new_context(browser: Browser, portal: PortalWorld, width: int = 1280) -> BrowserContext:
    """A fresh browser profile (no cookies) on the portal, `width` pixels wide (a desktop's, or
    360 for a phone's)."""
    ctx = browser.new_context(base_url=portal.url, viewport={"width": width, "height": 800})
    ctx.set_default_timeout(10_000)
    return ctx


@pytest.fixture
def context(browser: Browser, portal: PortalWorld) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) at desktop width."""
    ctx = new_context(browser, portal)
    yield ctx
    ctx.close()


@pytest.fixture
def database_away(onestop: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The embedded OneStop installed, then swapped as the process's runtime for one whose
    database is on a port nobody listens on (and which gives up connecting after a second)."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/onestop"
    away = runtime.from_settings(Settings(database_url=url, db_connect_timeout_seconds=1))
    monkeypatch.setattr(runtime, "_current", away)
    yield away
    away.database.dispose()


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Fill in and send the login form (on the login page already or not)."""
    if not page.url.endswith("/portal/login"):
        page.goto("/portal/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def session_cookie(ctx: BrowserContext) -> str | None:
    """The portal's session id as the browser holds it."""
    return next((c["value"] for c in ctx.cookies() if c["name"] == "onestop_portal"), None)


def plant_session_cookie(ctx: BrowserContext, value: str) -> None:
    """Make the browser hold `value` as the portal's session id (replacing what it holds)."""
    ctx.add_cookies(
        [{"name": "onestop_portal", "value": value, "domain": "127.0.0.1", "path": "/portal"}]
    )


def check_page(page: Page, name: str, language: str, width: int) -> None:
    """`page` (called `name`, in `language`) is no wider than the screen, and in English
    nothing of ours is left in Chinese (what is shown as it came, such as names, aside)."""
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, f"{name} ({language}) is wider than {width} px"
    if language == "en":
        ours = page.evaluate(OUR_TEXT)
        assert not CJK.search(ours), f"{name}: untranslated text in {ours!r}"


def screenshot(page: Page, name: str) -> None:
    """Keep what the page looks like as a test artifact (var/artifacts/portal/NAME.png), and
    check that the text it shows carries no resident ID unmasked, no mobile unmasked, and on
    the applicant's pages no digit of a mobile past its first three.

    The text shown, not the HTML: an input's value (the owning clerk's edit form holds the
    numbers as typed) is not text the page shows."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    text = page.inner_text("body")
    applicants = for_the_applicant(urlsplit(page.url).path)
    ids, mobiles = unmasked_resident_ids(text), unmasked_mobiles(text, past_first_three=applicants)
    assert not ids and not mobiles, f"{name} ({page.url}) shows {shown(ids, mobiles)}"
