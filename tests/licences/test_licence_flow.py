"""The licence from a real filing: stored apart, downloaded by the branch, verified by anyone."""

from __future__ import annotations

import hashlib
import io
import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from pypdf import PdfReader
from sqlalchemy import select
from typer.testing import CliRunner

from integrations.signing import Ed25519Signer, public_key_text
from integrations.simulators.licence import issue_licence, render_licence, simulator_signer
from orchestrator import runtime
from orchestrator.api.app import create_app
from orchestrator.cli import app as cli
from orchestrator.filings.models import Document, Filing, Step
from orchestrator.runtime import Runtime
from orchestrator.settings import (
    SIMULATOR_LICENCE_KEY,
    Settings,
    get_settings,
    licence_verify_url,
)
from tests.api import FILINGS, assert_bilingual, auth, file_via_api, wait_for
from tests.api.test_filings_api import set_behaviour
from tests.integrations.hostile_pdfs import bomb_pdf
from tests.integrations.test_e_licence import licence_data
from tests.people import BranchStaff

VERIFY = "/api/v1/licences/verify"
AUTHORITY = Ed25519Signer.generate()  # a registration authority's key, as production trusts


def registered(filing: dict[str, object]) -> bool:
    steps = filing["steps"]
    assert isinstance(steps, list)
    return any(s["name"] == "registration" and s["status"] == "done" for s in steps)


@pytest.fixture
def filed(api: TestClient, branch_staff: BranchStaff) -> str:
    """A filing whose registration is done: its tracking code."""
    code = file_via_api(api, branch_staff)
    wait_for(api, branch_staff.clerk_token, code, registered)
    return code


@pytest.fixture
def licence(api: TestClient, branch_staff: BranchStaff, filed: str) -> bytes:
    response = api.get(f"{FILINGS}/{filed}/licence", headers=auth(branch_staff.clerk_token))
    assert response.status_code == 200, response.text
    return response.content


class TestStoredApart:
    def test_the_step_result_keeps_a_reference_and_the_pdf_lives_in_document(
        self, onestop: Runtime, filed: str
    ) -> None:
        with onestop.database.transaction() as session:
            filing = session.scalars(select(Filing).where(Filing.tracking_code == filed)).one()
            step = session.scalars(
                select(Step).where(Step.filing_id == filing.id, Step.name == "registration")
            ).one()
            (document,) = session.scalars(
                select(Document).where(Document.filing_id == filing.id)
            ).all()
            result = step.result
            assert result is not None
            assert (document.kind, document.media_type) == ("licence", "application/pdf")
            assert document.sha256 == hashlib.sha256(document.content).hexdigest()
            assert result["licence"] == {
                "document": "licence",
                "reference": result["licence_id"],
                "media_type": "application/pdf",
                "sha256": document.sha256,
                "size": len(document.content),
            }
            assert document.reference == result["licence_id"]
            assert len(json.dumps(result)) < 1000  # every later step claim reads it


class TestDownload:
    def test_the_branch_downloads_a_genuine_licence(
        self, api: TestClient, licence: bytes, filed: str, branch_staff: BranchStaff
    ) -> None:
        filing = api.get(f"{FILINGS}/{filed}", headers=auth(branch_staff.clerk_token)).json()
        verdict = api.post(VERIFY, content=licence).json()
        assert (verdict["status"], verdict["valid"], verdict["trusted"]) == ("genuine", True, True)
        assert verdict["licence"]["credit_code"] == filing["credit_code"]
        assert verdict["licence"]["name"] == filing["company_name"]

    def test_answers_as_a_pdf_file(
        self, api: TestClient, filed: str, branch_staff: BranchStaff
    ) -> None:
        response = api.get(f"{FILINGS}/{filed}/licence", headers=auth(branch_staff.clerk_token))
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"].startswith("inline; filename=")
        assert response.headers["etag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'

    def test_the_district_officer_may_read_it_and_another_branch_may_not(
        self, api: TestClient, filed: str, branch_staff: BranchStaff
    ) -> None:
        url = f"{FILINGS}/{filed}/licence"
        assert api.get(url, headers=auth(branch_staff.officer_token)).status_code == 200
        for token in (branch_staff.other_clerk_token, branch_staff.other_district_officer_token):
            assert api.get(url, headers=auth(token)).status_code == 404
        assert api.get(url).status_code == 401

    def test_404_until_registration_is_done(
        self, api: TestClient, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        set_behaviour(onestop, "registration", outage=True)
        code = file_via_api(api, branch_staff)
        response = api.get(f"{FILINGS}/{code}/licence", headers=auth(branch_staff.clerk_token))
        assert response.status_code == 404
        assert response.json()["message_en"].startswith("the licence has not been issued")


class TestPublicVerification:
    def test_needs_no_token_and_reports_the_signed_data(self, api: TestClient) -> None:
        pdf = issue_licence(licence_data())
        body = api.post(VERIFY, content=pdf, headers={"Content-Type": "application/pdf"}).json()
        assert body["status"] == "genuine" and body["reason_zh"] and body["reason_en"]
        assert body["licence"]["name"] == "寿光市瑞泽农业科技有限公司"
        assert body["key_id"] and body["algorithm"] == "Ed25519"

    def test_a_byte_flipped_licence_is_reported_tampered(
        self, api: TestClient, licence: bytes
    ) -> None:
        flipped = bytearray(licence)
        flipped[len(licence) // 3] ^= 0x20
        response = api.post(VERIFY, content=bytes(flipped))
        assert response.status_code == 200
        assert response.json()["status"] == "tampered" and response.json()["valid"] is False

    def test_a_licence_of_another_key_is_not_trusted(self, api: TestClient) -> None:
        forged = issue_licence(licence_data(), Ed25519Signer.generate())
        body = api.post(VERIFY, content=forged).json()
        assert (body["status"], body["valid"], body["trusted"]) == ("untrusted", True, False)

    def test_a_truncated_licence_is_tampered(self, api: TestClient, licence: bytes) -> None:
        body = api.post(VERIFY, content=licence[: len(licence) // 2]).json()
        assert body["status"] == "tampered"

    @pytest.mark.parametrize(
        ("content", "status", "error"),
        [
            (b"", 400, "empty_body"),
            (b"GIF89a not a licence", 400, "not_a_pdf"),
            (b"%PDF-1.4\n%%EOF\n", 422, "not_a_licence"),
        ],
    )
    def test_what_is_no_licence_is_a_clear_client_error(
        self, api: TestClient, content: bytes, status: int, error: str
    ) -> None:
        response = api.post(VERIFY, content=content)
        assert_bilingual(response, status, error)

    def test_a_plain_pdf_is_not_a_licence(self, api: TestClient) -> None:
        response = api.post(VERIFY, content=render_licence(licence_data()))
        assert response.status_code == 422

    def test_an_oversized_body_is_413(self, api: TestClient, onestop: Runtime) -> None:
        too_big = b"%PDF-1.4\n" + b"0" * onestop.settings.api_max_body_bytes
        response = api.post(VERIFY, content=too_big)
        assert response.status_code == 413 and response.json()["error"] == "payload_too_large"

    def test_the_qr_code_leads_to_the_licence_on_record_by_an_unguessable_token(
        self, api: TestClient, licence: bytes
    ) -> None:
        signed = api.post(VERIFY, content=licence).json()["licence"]
        path = urlsplit(signed["verify_url"]).path
        token = path.rsplit("/", 1)[1]
        assert path == f"/api/v1/licences/check/{token}"
        assert signed["licence_no"] not in token and len(token) >= 22
        body = api.get(path).json()
        assert body["status"] == "genuine" and body["licence"] == signed

    def test_the_token_is_kept_as_a_digest_apart_from_the_step_result(
        self, onestop: Runtime, api: TestClient, licence: bytes, filed: str
    ) -> None:
        signed = api.post(VERIFY, content=licence).json()["licence"]
        token = signed["verify_url"].rsplit("/", 1)[1]
        with onestop.database.reading() as session:
            filing = session.scalars(select(Filing).where(Filing.tracking_code == filed)).one()
            document = session.scalars(
                select(Document).where(Document.filing_id == filing.id)
            ).one()
            step = session.scalars(
                select(Step).where(Step.filing_id == filing.id, Step.name == "registration")
            ).one()
            assert document.verification_token_sha256 == hashlib.sha256(token.encode()).hexdigest()
            assert token not in json.dumps(step.result)

    def test_the_bare_number_still_finds_the_licence(self, api: TestClient, licence: bytes) -> None:
        signed = api.post(VERIFY, content=licence).json()["licence"]
        body = api.get(f"/api/v1/licences/{signed['licence_no']}").json()
        assert body["status"] == "genuine" and body["licence"] == signed

    def test_an_unknown_licence_number_or_token_is_404(self, api: TestClient) -> None:
        for path in ("/api/v1/licences/000000000000000000", "/api/v1/licences/check/" + "A" * 22):
            response = api.get(path)
            assert response.status_code == 404 and response.json()["message_zh"]

    def test_a_malformed_token_is_422(self, api: TestClient) -> None:
        response = api.get("/api/v1/licences/check/short")
        assert response.status_code == 422 and response.json()["error"] == "invalid"

    def test_the_endpoints_are_documented(self, api: TestClient) -> None:
        paths = api.get("/openapi.json").json()["paths"]
        assert {
            "/api/v1/licences/verify",
            "/api/v1/licences/check/{token}",
            "/api/v1/licences/{licence_no}",
            "/api/v1/filings/{tracking_code}/licence",
        } <= set(paths)
        assert "429" in paths["/api/v1/licences/verify"]["post"]["responses"]

    def test_the_qr_template_names_this_route(self) -> None:
        template = licence_verify_url("https://onestop.example.cn/")
        path = create_app().url_path_for("check_by_token", token="TOKEN")
        assert template.format(token="TOKEN") == f"https://onestop.example.cn{path}"


class TestProductionTrust:
    """A OneStop that runs no simulators trusts the authorities' keys, never the dev key."""

    @pytest.fixture
    def production(self, onestop: Runtime) -> Iterator[TestClient]:
        settings = onestop.settings.model_copy(
            update={"licence_trusted_keys": [public_key_text(AUTHORITY)], "development": False}
        )
        runtime.install(replace(onestop, settings=settings))
        try:
            with TestClient(create_app(settings)) as client:
                yield client
        finally:
            runtime.install(onestop)

    def test_a_licence_signed_with_the_dev_key_is_untrusted(self, production: TestClient) -> None:
        body = production.post(VERIFY, content=issue_licence(licence_data())).json()
        assert (body["status"], body["valid"], body["trusted"]) == ("untrusted", True, False)
        assert body["licence"] is None
        assert "development key" in body["detail"]

    def test_the_simulated_licence_on_record_is_untrusted(
        self, production: TestClient, licence: bytes
    ) -> None:
        body = production.get(urlsplit(qr_target(licence)).path).json()
        assert (body["status"], body["trusted"]) == ("untrusted", False)

    def test_a_licence_of_a_trusted_authority_is_genuine(self, production: TestClient) -> None:
        body = production.post(VERIFY, content=issue_licence(licence_data(), AUTHORITY)).json()
        assert body["status"] == "genuine" and body["licence"]["name"] == licence_data().name

    def test_a_tampered_licence_is_tampered(self, production: TestClient) -> None:
        edited = issue_licence(licence_data(), AUTHORITY).replace("瑞泽".encode(), "瑞丰".encode())
        assert production.post(VERIFY, content=edited).json()["status"] == "tampered"

    def test_a_decompression_bomb_is_refused_without_growing_the_api(
        self, production: TestClient
    ) -> None:
        bomb = bomb_pdf()
        production.post(VERIFY, content=b"%PDF-1.7 warm-up\n%%EOF")
        tracemalloc.start()
        try:
            started = time.perf_counter()
            response = production.post(VERIFY, content=bomb)
            seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code == 200 and response.json()["status"] == "tampered"
        assert peak < 5 * 1024 * 1024 and seconds < 1.0  # not the 70 MiB it would inflate to


def qr_target(pdf: bytes) -> str:
    """Where a licence's QR code leads, as its signed data says (read for the test only)."""
    attached = PdfReader(io.BytesIO(pdf)).attachments["licence.json"][0]
    return str(json.loads(attached)["licence"]["verify_url"])


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set ONESTOP_* variables for the command line (its settings are read once, so anew)."""

    def set_environment(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(f"ONESTOP_{name.upper()}", value)
        get_settings.cache_clear()

    yield set_environment
    get_settings.cache_clear()


class TestCommandLine:
    @pytest.fixture
    def runner(self) -> CliRunner:
        return CliRunner()

    @pytest.fixture
    def production(self, environment: Callable[..., None]) -> None:
        environment(licence_trusted_keys=json.dumps([public_key_text(AUTHORITY)]))

    def write(self, tmp_path: Path, content: bytes) -> str:
        path = tmp_path / "licence.pdf"
        path.write_bytes(content)
        return str(path)

    def test_a_genuine_licence_exits_0_and_shows_the_signed_data(
        self, runner: CliRunner, tmp_path: Path, production: None
    ) -> None:
        pdf = issue_licence(licence_data(), AUTHORITY)
        result = runner.invoke(cli, ["licence", "verify", self.write(tmp_path, pdf)])
        assert result.exit_code == 0, result.output
        assert "真实有效" in result.output and "GENUINE" in result.output
        assert "寿光市瑞泽农业科技有限公司" in result.output
        assert public_key_text(AUTHORITY) in result.output

    @pytest.mark.parametrize(
        ("make", "status"),
        [
            (lambda pdf: pdf[:-300], "tampered"),
            (lambda pdf: pdf.replace("瑞泽".encode(), "瑞丰".encode()), "tampered"),
            (lambda pdf: issue_licence(licence_data()), "untrusted"),  # the dev key
            (lambda pdf: issue_licence(licence_data(), Ed25519Signer.generate()), "untrusted"),
            (lambda pdf: b"just some text", "not_a_pdf"),
        ],
        ids=["truncated", "edited", "dev key", "other key", "not a pdf"],
    )
    def test_anything_else_exits_1_with_its_verdict(
        self, runner: CliRunner, tmp_path: Path, production: None, make: object, status: str
    ) -> None:
        assert callable(make)
        path = self.write(tmp_path, make(issue_licence(licence_data(), AUTHORITY)))
        result = runner.invoke(cli, ["licence", "verify", path, "--json"])
        assert result.exit_code == 1, result.output
        verdict = json.loads(result.output.strip().splitlines()[-1])
        assert verdict["status"] == status and verdict["reason_zh"] and verdict["reason_en"]
        assert verdict["licence"] is None

    def test_by_default_not_even_the_dev_key_is_trusted(
        self, runner: CliRunner, tmp_path: Path, environment: Callable[..., None]
    ) -> None:
        environment()
        path = self.write(tmp_path, issue_licence(licence_data()))
        result = runner.invoke(cli, ["licence", "verify", path])
        assert result.exit_code == 1 and "NOT TRUSTED" in result.output
        assert "development key" in result.output

    def test_the_dev_key_trusted_outside_development_is_refused(
        self, runner: CliRunner, tmp_path: Path, environment: Callable[..., None]
    ) -> None:
        environment(licence_trusted_keys=json.dumps([SIMULATOR_LICENCE_KEY]))
        path = self.write(tmp_path, issue_licence(licence_data()))
        result = runner.invoke(cli, ["licence", "verify", path, "--json"])
        assert result.exit_code == 2, result.output
        refusal = json.loads(result.output.strip().splitlines()[-1])
        assert refusal["error"] == "misconfigured"
        assert (
            "ONESTOP_DEVELOPMENT" in refusal["message_en"] and "开发密钥" in refusal["message_zh"]
        )

    def test_malformed_keys_are_named_and_exit_2(
        self, runner: CliRunner, tmp_path: Path, environment: Callable[..., None]
    ) -> None:
        environment(licence_trusted_keys='["Ed25519:AAAA"]')
        path = self.write(tmp_path, issue_licence(licence_data()))
        result = runner.invoke(cli, ["licence", "verify", path])
        assert result.exit_code == 2 and "ONESTOP_LICENCE_TRUSTED_KEYS" in result.output

    def test_a_development_deployment_may_trust_the_dev_key(
        self, runner: CliRunner, tmp_path: Path, environment: Callable[..., None]
    ) -> None:
        environment(licence_trusted_keys=json.dumps([SIMULATOR_LICENCE_KEY]), development="true")
        path = self.write(tmp_path, issue_licence(licence_data()))
        assert runner.invoke(cli, ["licence", "verify", path]).exit_code == 0

    def test_an_unreadable_file_exits_2(self, runner: CliRunner, tmp_path: Path) -> None:
        result = runner.invoke(cli, ["licence", "verify", str(tmp_path / "missing.pdf")])
        assert result.exit_code == 2
        assert "无法读取" in result.output and "cannot read" in result.output
        assert runner.invoke(cli, ["licence", "verify", str(tmp_path)]).exit_code == 2

    def test_help_explains_the_exit_codes(self, runner: CliRunner) -> None:
        result = runner.invoke(cli, ["licence", "verify", "--help"], terminal_width=200)
        assert result.exit_code == 0
        assert "Exit codes: 0 = genuine" in result.output and "电子营业执照" in result.output


class TestTrustedKeys:
    def test_the_default_trusts_no_key(self) -> None:
        assert public_key_text(simulator_signer()) == SIMULATOR_LICENCE_KEY
        settings = Settings()
        assert settings.licence_trusted_keys == [] and not settings.development

    def test_a_deployment_with_its_own_simulators_trusts_their_key(self) -> None:
        own = Settings(licence_trusted_keys=[public_key_text(AUTHORITY)]).with_simulators()
        assert own.licence_trusted_keys == [public_key_text(AUTHORITY), SIMULATOR_LICENCE_KEY]
        assert own.development and own.trusts_simulator_key()
        assert own.with_simulators().licence_trusted_keys == own.licence_trusted_keys

    def test_the_embedded_runtime_trusts_its_simulators(self, onestop: Runtime) -> None:
        assert onestop.settings.trusts_simulator_key() and onestop.settings.development

    def test_the_dev_key_is_recognised_whole_however_it_is_written(self) -> None:
        algorithm, _, encoded = SIMULATOR_LICENCE_KEY.partition(":")
        assert Settings(licence_trusted_keys=[f" {algorithm}:{encoded}"]).trusts_simulator_key()
        assert not Settings(
            licence_trusted_keys=[public_key_text(AUTHORITY)]
        ).trusts_simulator_key()

    def test_a_malformed_key_is_refused_when_settings_load(self) -> None:
        with pytest.raises(ValidationError, match="public key"):
            Settings(licence_trusted_keys=["Ed25519:AAAA"])
