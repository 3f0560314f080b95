"""Which event texts what (`notices.texts_for`), and the words of each text."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from bank_portal import receipt
from orchestrator.clock import CHINA
from orchestrator.notifications import notices, texts
from orchestrator.notifications.notices import DueMaterial, FilingFacts
from orchestrator.settings import DEFAULT_PUBLIC_URL, Settings, tracking_url

DUE = datetime(2026, 12, 9, 17, 0, tzinfo=CHINA)
FACTS = FilingFacts(
    filing_id=1,
    tracking_code="OS23456789AB",
    company_name="寿光市禾丰农业科技有限公司",
    mobile="13805361234",
    credit_code="91370783MA0000001X",
    waybill="EA123456785CN",
    materials_due=(DueMaterial("住房公积金授权书", "housing fund authorisation", DUE),),
)
PUBLIC = "https://onestop.example.cn/"


def bodies(event: notices.FilingNotice, facts: FilingFacts = FACTS) -> list[str]:
    return [t.zh for t in notices.texts_for(event, facts, public_url=PUBLIC)]


class TestWhichEventTextsWhat:
    def test_acceptance_texts_the_link_then_each_material_due(self) -> None:
        accepted, due = bodies("accepted")
        assert "OS23456789AB" in accepted
        assert "https://onestop.example.cn/track/?code=OS23456789AB" in accepted
        assert "《住房公积金授权书》" in due and "2026年12月9日17:00" in due

    def test_acceptance_without_materials_due_is_one_text(self) -> None:
        facts = FilingFacts(1, "OS23456789AB", "某公司", "13805361234")
        assert len(bodies("accepted", facts)) == 1

    def test_ready_texts_the_credit_code(self) -> None:
        [ready] = bodies("filing_ready")
        assert "91370783MA0000001X" in ready

    def test_shipped_texts_the_waybill(self) -> None:
        [shipped] = bodies("shipped")
        assert "EA123456785CN" in shipped

    def test_no_text_without_the_fact_it_carries(self) -> None:
        bare = FilingFacts(1, "OS23456789AB", "某公司", "13805361234")
        assert bodies("filing_ready", bare) == [] and bodies("shipped", bare) == []

    def test_no_text_carries_the_mobile_and_each_is_signed(self) -> None:
        every = [t for e in ("accepted", "filing_ready", "shipped") for t in bodies(e)]
        every.append(texts.one_time_code(code="123456", purpose="supplement", minutes=10).zh)
        assert len(every) == 5
        for body in every:
            assert body.startswith(texts.SIGNATURE) and "13805361234" not in body


class TestTrackingUrl:
    def test_the_receipt_and_the_texts_share_one_source(self) -> None:
        assert receipt.tracking_url is tracking_url

    def test_leads_to_the_tracking_page_with_the_code(self) -> None:
        url = urlsplit(tracking_url(PUBLIC, "OS23456789AB"))
        assert url.path == "/track/" and parse_qs(url.query) == {"code": ["OS23456789AB"]}

    def test_the_public_address_defaults_to_the_embedded_server(self) -> None:
        assert Settings(public_url=None).public_base_url == DEFAULT_PUBLIC_URL
        assert Settings(public_url=PUBLIC).public_base_url == PUBLIC
