"""The e-business licence: issued by the simulated bureau over HTTP, verified by anyone."""

from __future__ import annotations

import base64
import io
import time
import tracemalloc
from datetime import date
from typing import Any

import pypdfium2
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey, Ed448PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter, get_configuration

from integrations import e_licence, signing
from integrations.base import AgencyDocument, Done
from integrations.e_licence import (
    ATTACHMENT,
    MAX_INFLATED_BYTES,
    LicenceData,
    SignedLicence,
    Status,
    canonical_json,
    fill_signature,
    signed_envelope,
    verify_pdf,
)
from integrations.registry import build_adapters, close_adapters
from integrations.signing import (
    Ed25519Signer,
    UnknownKey,
    key_id,
    parse_public_key,
    public_key_text,
)
from integrations.simulators.app import SimulatorConfig, create_app
from integrations.simulators.licence import (
    _render,
    issue_licence,
    render_licence,
    simulator_signer,
)
from integrations.simulators.server import serve_in_thread
from tests.integrations.agency_factories import Adapters, new_key, person, registration_request
from tests.integrations.conftest import SimControl
from tests.integrations.hostile_pdfs import BOMB_INFLATED_BYTES, bomb_pdf, inflated_size

TRUSTED = [simulator_signer()]
SIMULATOR_KEY = "Ed25519:yN0dPPqK0B21l0ndeFraKJTu1ZAwfdcYJULrCbX8Jn4="


def licence_data(**overrides: Any) -> LicenceData:
    fields: dict[str, Any] = {
        "licence_no": "370783202500001234",
        "credit_code": "91370783MA3C0DE00X",
        "name": "寿光市瑞泽农业科技有限公司",
        "enterprise_type": "有限责任公司（自然人投资或控股）",
        "legal_representative": "张伟",
        "registered_capital_yuan": "1000000.00",
        "established_on": date(2025, 3, 3),
        "domicile": "山东省寿光市圣城街道农圣东街1号",
        "business_scope": "蔬菜种植；农业技术推广",
        "authority": "寿光市市场监督管理局",
        "issued_on": date(2025, 3, 3),
        "verify_url": "http://onestop.test/api/v1/licences/370783202500001234",
    }
    return LicenceData(**{**fields, **overrides})


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return issue_licence(licence_data())


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def qr_codes_on(pdf: bytes) -> list[str]:
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=2).to_pil()
    return [code.text for code in zxingcpp.read_barcodes(image)]


class TestIssuedOverHttp:
    @pytest.fixture
    def issued(self, adapters: Adapters, sim: SimControl) -> tuple[Any, AgencyDocument]:
        request = registration_request(legal_representative=person("王芳"))
        outcome = adapters["registration"].submit(request, idempotency_key=new_key())
        assert isinstance(outcome, Done)
        licence = outcome.result["licence"]
        assert isinstance(licence, AgencyDocument)
        return request, licence

    def test_the_bureau_delivers_a_licence_that_verifies(
        self, issued: tuple[Any, AgencyDocument]
    ) -> None:
        request, licence = issued
        assert (licence.kind, licence.media_type) == ("licence", "application/pdf")
        verdict = verify_pdf(licence.content, TRUSTED)
        assert verdict.status is Status.GENUINE and verdict.valid and verdict.trusted
        assert verdict.licence is not None
        assert verdict.licence.name == request.company_name
        assert verdict.licence.legal_representative == "王芳"
        assert verdict.licence.licence_no == licence.reference
        assert verdict.licence.registered_capital_yuan == "1000000.00"
        assert verdict.licence.authority == "寿光市市场监督管理局"

    def test_the_pdf_shows_the_licence_in_chinese(self, issued: tuple[Any, AgencyDocument]) -> None:
        request, licence = issued
        text = text_of(licence.content)
        for words in ("营", "业", "执", "照", "统一社会信用代码", "法定代表人", "经营范围"):
            assert words in text
        for shown in (request.company_name, "王芳", "寿光市市场监督管理局", "2025年03月03日"):
            assert shown in text

    def test_the_qr_code_leads_to_this_licence_check_by_its_token(
        self, issued: tuple[Any, AgencyDocument]
    ) -> None:
        _, licence = issued
        assert qr_codes_on(licence.content) == [
            f"http://127.0.0.1:8000/api/v1/licences/check/{licence.verification_token}"
        ]

    def test_the_token_is_unguessable_and_not_the_number(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        tokens = []
        for _ in range(2):
            outcome = adapters["registration"].submit(
                registration_request(), idempotency_key=new_key()
            )
            assert isinstance(outcome, Done)
            licence = outcome.result["licence"]
            assert isinstance(licence, AgencyDocument)
            assert licence.reference not in licence.verification_token
            tokens.append(licence.verification_token)
        assert tokens[0] != tokens[1]
        # 16 random bytes in URL-safe base64: 128 bits that nobody can count through.
        assert all(len(base64.urlsafe_b64decode(t + "==")) == 16 for t in tokens)

    def test_the_token_stays_out_of_repr(self, issued: tuple[Any, AgencyDocument]) -> None:
        _, licence = issued
        assert licence.verification_token not in repr(licence)

    def test_a_repeated_submit_returns_the_same_licence(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        key, request = new_key(), registration_request()
        first = adapters["registration"].submit(request, idempotency_key=key)
        again = adapters["registration"].status(key)
        assert isinstance(first, Done) and first == again

    def test_the_verify_url_is_configurable(self) -> None:
        template = "https://verify.test/l/{licence_no}?t={token}"
        config = SimulatorConfig(seed=7, licence_verify_url=template)
        server = serve_in_thread(create_app(config))
        try:
            built = build_adapters(server.base_url, timeout=5)
            outcome = built["registration"].submit(registration_request(), idempotency_key="k")
            close_adapters(built)
        finally:
            server.stop()
        assert isinstance(outcome, Done)
        licence = outcome.result["licence"]
        verdict = verify_pdf(licence.content, TRUSTED)
        assert verdict.licence is not None
        assert verdict.licence.verify_url == (
            f"https://verify.test/l/{licence.reference}?t={licence.verification_token}"
        )

    @pytest.mark.parametrize("template", ["https://v.test/{id}", "https://v.test/{}", "{token"])
    def test_a_verify_url_that_cannot_be_filled_in_is_refused(self, template: str) -> None:
        with pytest.raises(ValueError, match="verify URL template"):
            SimulatorConfig(licence_verify_url=template)


class TestRendering:
    def test_the_same_data_gives_the_same_bytes(self, pdf: bytes) -> None:
        assert issue_licence(licence_data()) == pdf

    def test_long_text_wraps_and_stays_whole(self) -> None:
        scope = "；".join(f"第{i}项经营活动" for i in range(40))
        text = text_of(issue_licence(licence_data(business_scope=scope))).replace("\n", "")
        assert scope in text

    def test_the_attachment_is_the_canonical_signed_data(self, pdf: bytes) -> None:
        attached = PdfReader(io.BytesIO(pdf)).attachments[ATTACHMENT][0]
        envelope = SignedLicence.model_validate_json(attached)
        assert attached == canonical_json(envelope)
        assert envelope.licence == licence_data()
        assert envelope.key_id == key_id("Ed25519", simulator_signer().public_key)

    def test_the_attachment_is_stored_unfiltered_so_its_key_reads_without_inflating(
        self, pdf: bytes
    ) -> None:
        attached = PdfReader(io.BytesIO(pdf)).attachments[ATTACHMENT][0]
        assert pdf.count(attached) == 1  # the JSON's bytes are the stream's bytes


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1 and len(old) == len(new)
    return data.replace(old, new)


class TestVerification:
    def test_a_licence_is_genuine_only_for_a_verifier_that_trusts_its_key(self, pdf: bytes) -> None:
        verdict = verify_pdf(pdf, [])
        assert (verdict.status, verdict.valid, verdict.trusted) == (Status.UNTRUSTED, True, False)
        # A key nobody vouches for can sign anything: its data is not shown, its key is.
        assert verdict.licence is None
        assert verdict.public_key == SIMULATOR_KEY and verdict.algorithm == "Ed25519"
        genuine = verify_pdf(pdf, TRUSTED)
        assert genuine.status is Status.GENUINE and genuine.licence == licence_data()
        assert genuine.public_key == SIMULATOR_KEY

    def test_trust_is_the_whole_key_not_its_short_id(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # A key id is 64 bits of a hash: a forger may find a key whose id is a trusted key's.
        # Play that collision: every key gets the trusted key's id, in the file as well.
        trusted_id = key_id("Ed25519", simulator_signer().public_key)
        monkeypatch.setattr(e_licence, "key_id", lambda algorithm, public_key: trusted_id)
        forged = issue_licence(licence_data(), Ed25519Signer.generate())
        assert (
            SignedLicence.model_validate_json(
                PdfReader(io.BytesIO(forged)).attachments[ATTACHMENT][0]
            ).key_id
            == trusted_id
        )
        assert verify_pdf(forged, TRUSTED).status is Status.UNTRUSTED

    def test_a_flipped_byte_in_the_page_is_tampering(self, pdf: bytes) -> None:
        flipped = bytearray(pdf)
        flipped[pdf.index(b"stream") + 100] ^= 0x01
        verdict = verify_pdf(bytes(flipped), TRUSTED)
        assert (verdict.status, verdict.valid, verdict.trusted) == (Status.TAMPERED, False, False)
        assert verdict.licence is None and "签名" in verdict.reason_zh

    def test_edited_data_in_the_attachment_is_tampering(self, pdf: bytes) -> None:
        edited = _replace_once(pdf, "瑞泽".encode(), "瑞丰".encode())
        assert verify_pdf(edited, TRUSTED).status is Status.TAMPERED

    def test_an_edited_signature_is_tampering(self, pdf: bytes) -> None:
        start = pdf.index(b"/OneStopSignature (") + len(b"/OneStopSignature (")
        digit = pdf[start : start + 1]
        edited = pdf[:start] + (b"0" if digit != b"0" else b"1") + pdf[start + 1 :]
        assert verify_pdf(edited, TRUSTED).status is Status.TAMPERED

    def test_redrawn_visible_text_is_tampering(self, pdf: bytes) -> None:
        # A forger rewrites the page through a PDF library: every byte is re-laid out.
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
        writer.add_metadata({"/Title": "营业执照 寿光市瑞丰农业科技有限公司"})
        out = io.BytesIO()
        writer.write(out)
        assert verify_pdf(out.getvalue(), TRUSTED).status is Status.TAMPERED

    def test_a_licence_signed_by_another_key_is_untrusted_not_tampered(self) -> None:
        forged = issue_licence(
            licence_data(name="寿光市假冒农业科技有限公司"), Ed25519Signer.generate()
        )
        verdict = verify_pdf(forged, TRUSTED)
        assert (verdict.status, verdict.valid, verdict.trusted) == (Status.UNTRUSTED, True, False)
        assert "不在信任列表" in verdict.reason_zh and "not trusted" in verdict.reason_en

    def test_a_foreign_key_claiming_a_trusted_key_id_is_tampering(self, pdf: bytes) -> None:
        envelope = SignedLicence.model_validate_json(
            PdfReader(io.BytesIO(pdf)).attachments[ATTACHMENT][0]
        )
        other = Ed25519Signer.generate()
        forged = issue_licence(envelope.licence, other)
        real_id = envelope.key_id.encode()
        fake_id = key_id("Ed25519", other.public_key).encode()
        verdict = verify_pdf(_replace_once(forged, fake_id, real_id), TRUSTED)
        assert verdict.status is Status.TAMPERED

    @pytest.mark.parametrize("cut", [0.5, 0.9, 0.99])
    def test_a_truncated_licence_is_damaged(self, pdf: bytes, cut: float) -> None:
        verdict = verify_pdf(pdf[: int(len(pdf) * cut)], TRUSTED)
        assert verdict.status is Status.TAMPERED and not verdict.valid

    def test_a_file_that_is_not_a_pdf(self) -> None:
        verdict = verify_pdf(b"\x89PNG\r\n\x1a\n not a licence", TRUSTED)
        assert verdict.status is Status.NOT_A_PDF and verdict.reason_en == "not a PDF file"
        assert verify_pdf(b"", TRUSTED).status is Status.NOT_A_PDF

    def test_a_pdf_without_a_signature_is_not_a_licence(self) -> None:
        assert verify_pdf(render_licence(licence_data()), TRUSTED).status is Status.NOT_A_LICENCE

    def test_a_second_signature_field_is_tampering(self, pdf: bytes) -> None:
        doubled = pdf + b"\n% /OneStopSignature (" + b" " * 512 + b")\n%%EOF\n"
        assert verify_pdf(doubled, TRUSTED).status is Status.TAMPERED

    @settings(max_examples=150, deadline=None)
    @given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
    def test_no_single_bit_flip_anywhere_stays_genuine(
        self, pdf: bytes, position: int, bit: int
    ) -> None:
        flipped = bytearray(pdf)
        flipped[position % len(pdf)] ^= 1 << bit
        verdict = verify_pdf(bytes(flipped), TRUSTED)
        assert not verdict.genuine


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A decompression bomb shaped like a licence, signed by nobody."""
    return bomb_pdf()


def _signed_without_attachment(signer: signing.Signer) -> bytes:
    """A licence whose catalog lists no attachment, signed as it is by `signer`."""
    unsigned = _render(licence_data(), attachment=signed_envelope(licence_data(), signer))
    hidden = unsigned.replace(b"/EmbeddedFiles", b"/EmbeddedFilez")
    return fill_signature(hidden, signer)


def _measured(check: Any) -> tuple[Any, float, int]:
    """What `check()` returns, the seconds it took, and the peak of memory it allocated."""
    started = time.perf_counter()
    result = check()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    try:
        check()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, elapsed, peak


class TestTrustBeforeParsing:
    """Nothing of an uploaded file is parsed or inflated before its signature is known."""

    def test_the_bomb_is_real(self, bomb: bytes) -> None:
        stream = bomb[bomb.index(b"stream\n") + 7 : bomb.index(b"\nendstream")]
        assert len(bomb) < 80 * 1024
        assert inflated_size(stream) == BOMB_INFLATED_BYTES > 50 * 1024 * 1024

    def test_refuses_a_decompression_bomb_without_inflating_it(self, bomb: bytes) -> None:
        verdict, seconds, peak = _measured(lambda: verify_pdf(bomb, TRUSTED))
        assert verdict.status is Status.TAMPERED and not verdict.valid
        assert seconds < 0.050
        assert peak < 4 * len(bomb)  # the file and its blanked copy; nothing inflated

    def test_a_bomb_signed_by_an_unknown_key_is_untrusted_without_inflating_it(self) -> None:
        bomb = bomb_pdf(signer=Ed25519Signer.generate(), named=True)
        verdict, seconds, peak = _measured(lambda: verify_pdf(bomb, TRUSTED))
        assert (verdict.status, verdict.valid, verdict.licence) == (Status.UNTRUSTED, True, None)
        assert seconds < 0.050
        assert peak < 4 * len(bomb)

    def test_a_bomb_a_trusted_key_signed_inflates_no_more_than_a_licence_needs(self) -> None:
        # A development deployment trusts a key whose seed is public: anyone can sign this.
        bomb = bomb_pdf(signer=simulator_signer())
        verdict, _, peak = _measured(lambda: verify_pdf(bomb, TRUSTED))
        assert verdict.status is Status.TAMPERED and "LimitReachedError" in verdict.detail
        assert peak < 4 * MAX_INFLATED_BYTES < BOMB_INFLATED_BYTES // 10

    def test_the_lowered_limit_is_for_this_call_only(self) -> None:
        verify_pdf(bomb_pdf(signer=simulator_signer(), inflated=2 * MAX_INFLATED_BYTES), TRUSTED)
        assert get_configuration().zlib_maximum_output_length == 75_000_000

    def test_an_untrusted_file_is_judged_without_being_read_as_a_pdf(self) -> None:
        other = Ed25519Signer.generate()
        unreadable = _signed_without_attachment(other)
        verdict = verify_pdf(unreadable, TRUSTED)
        assert (verdict.status, verdict.valid) == (Status.UNTRUSTED, True)
        assert verdict.public_key == public_key_text(other)
        # The same file from a trusted key is read, and found to carry no licence data.
        trusted = verify_pdf(unreadable, [other])
        assert trusted.status is Status.TAMPERED and ATTACHMENT in trusted.detail

    def test_a_forged_signature_naming_a_key_is_tampering(self, pdf: bytes) -> None:
        # The file names the simulators' key; a signature of another key's is no signature.
        other = Ed25519Signer.generate()
        start = pdf.index(b"/OneStopSignature (") + len(b"/OneStopSignature (")
        blank = pdf[:start] + b" " * 512 + pdf[start + 512 :]
        forged = other.sign(blank).hex().encode().ljust(512)
        verdict = verify_pdf(pdf[:start] + forged + pdf[start + 512 :], [])
        assert verdict.status is Status.TAMPERED and "signature check failed" in verdict.detail


class _Ed448Signer:
    """A second algorithm, to show that one can replace Ed25519 (as SM2 will)."""

    algorithm = "Ed448"

    def __init__(self) -> None:
        self._private = Ed448PrivateKey.generate()
        self.public_key = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def verify(self, message: bytes, signature: bytes) -> bool:
        return _Ed448Verifier(self.public_key).verify(message, signature)


class _Ed448Verifier:
    algorithm = "Ed448"

    def __init__(self, public_key: bytes) -> None:
        self.public_key = public_key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed448PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except Exception:
            return False
        return True


class TestSignerInterface:
    def test_another_algorithm_slots_in_without_touching_callers(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(signing.VERIFIERS, "Ed448", _Ed448Verifier)
        signer = _Ed448Signer()
        pdf = issue_licence(licence_data(), signer)
        trusted = parse_public_key(public_key_text(signer))
        verdict = verify_pdf(pdf, [trusted])
        assert (verdict.status, verdict.algorithm) == (Status.GENUINE, "Ed448")
        assert verify_pdf(pdf, TRUSTED).status is Status.UNTRUSTED

    def test_an_unknown_algorithm_cannot_be_checked(self) -> None:
        pdf = issue_licence(licence_data(), _Ed448Signer())  # Ed448 not registered here
        verdict = verify_pdf(pdf, TRUSTED)
        assert verdict.status is Status.TAMPERED and "unsupported" in verdict.detail

    def test_public_keys_are_written_as_algorithm_and_base64(self) -> None:
        signer = simulator_signer()
        text = public_key_text(signer)
        assert text.startswith("Ed25519:")
        parsed = parse_public_key(text)
        assert parsed.public_key == signer.public_key
        assert parsed.verify(b"m", signer.sign(b"m")) and not parsed.verify(b"n", signer.sign(b"m"))

    @pytest.mark.parametrize(
        "text",
        ["", "Ed25519", "Ed25519:not base64!", "Ed25519:" + base64.b64encode(b"short").decode(),
         "RSA:" + base64.b64encode(b"k" * 32).decode()],
    )  # fmt: skip
    def test_bad_public_keys_are_refused_with_a_reason(self, text: str) -> None:
        with pytest.raises(UnknownKey):
            parse_public_key(text)

    def test_the_key_id_depends_on_algorithm_and_key(self) -> None:
        key = simulator_signer().public_key
        assert key_id("Ed25519", key) == key_id("Ed25519", key)
        assert key_id("Ed25519", key) != key_id("SM2", key)
        assert len(key_id("Ed25519", key)) == 16

    def test_the_simulators_key_is_a_fixed_dev_key(self) -> None:
        # OneStop trusts this key by default; it must not change by accident.
        assert public_key_text(simulator_signer()) == SIMULATOR_KEY
