"""Seal specimen impressions (印模): drawn with real Chinese glyphs, small, and checked by the
bank as the reserved seals (预留印鉴) of the company that filed them."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, PngImagePlugin

from integrations.base import Done, RejectedError
from integrations.simulators import specimens
from integrations.simulators.app import SimulatorConfig, create_app
from orchestrator.filings.agency_requests import reserved_specimens
from tests.integrations.agency_factories import (
    Adapters,
    bank_account_request,
    credit_code,
    new_key,
    seal_request,
    specimen,
)
from tests.integrations.conftest import SimControl

COMPANY = "寿光市瑞泽农业科技有限公司"
MISSING = "\U000f0000"  # a private-use code point: no font has a glyph for it


def ink(mask: Image.Image) -> int:
    """How many pixels carry ink."""
    return sum(1 for v in mask.tobytes() if v > 128)


class TestDrawing:
    @pytest.mark.parametrize("char", sorted(set(COMPANY + "公章财务专用发票法定代表人名印张伟")))
    def test_every_chinese_character_is_a_real_glyph(self, char: str) -> None:
        drawn = specimens.glyph(char, 48)
        assert ink(drawn) > 20
        assert ImageChops.difference(drawn, specimens.glyph(MISSING, 48)).getbbox() is not None

    def test_different_characters_draw_differently(self) -> None:
        inks = {char: ink(specimens.glyph(char, 48)) for char in "寿光市农业"}
        assert len(set(inks.values())) == len(inks)

    def test_the_company_name_changes_the_impression(self) -> None:
        one = specimens.draw_impression("01", enterprise_name=COMPANY, holder="张伟", uscc="U")
        other = specimens.draw_impression(
            "01", enterprise_name="任城区鑫达物流有限公司", holder="张伟", uscc="U"
        )
        assert ImageChops.difference(one, other).getbbox() is not None

    @pytest.mark.parametrize("seal_type", ["01", "02", "03", "04"])
    def test_impressions_are_small_red_palette_pngs(self, seal_type: str) -> None:
        png = specimens.impression_png(
            seal_type, enterprise_name=COMPANY, holder="张伟", uscc="U", filing_no="F"
        )
        assert len(png) < 8 * 1024
        image = Image.open(io.BytesIO(png))
        assert (image.format, image.mode, image.size) == ("PNG", "P", (256, 256))
        counts = image.convert("RGB").getcolors() or []
        colours = {colour for _, colour in counts} - {(255, 255, 255)}
        assert (200, 16, 24) in colours  # seal red, and its paler antialiasing shades only
        assert all(r > g + 50 and r > b + 50 for r, g, b in colours)

    def test_a_missing_font_names_the_debian_package(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(specimens, "FONT_PATHS", (Path("/nonexistent/font.ttc"),))
        specimens.font_path.cache_clear()
        try:
            with pytest.raises(specimens.FontMissing, match="fonts-wqy-zenhei"):
                create_app(SimulatorConfig(seed=1, agencies=("seal",)))
        finally:
            specimens.font_path.cache_clear()


class TestSealFilingReturnsImpressions:
    def test_each_seal_comes_back_with_its_verified_impression(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        request = seal_request()
        outcome = adapters["seal"].submit(request, idempotency_key=new_key())
        assert isinstance(outcome, Done)
        codes: Any = outcome.result["seal_codes"]
        images: Any = outcome.result["seal_specimens"]
        assert set(images) == set(request.seals)
        for kind, code in {"official": "01", "finance": "02", "legal_representative": "04"}.items():
            assert (
                specimens.specimen_problem(
                    images[kind], uscc=request.credit_code, seal_type=code, filing_no=codes[kind]
                )
                is None
            )


class TestBankChecksTheReservedSeals:
    def test_the_seal_steps_impressions_open_the_account(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        # The orchestrator's own path: seal result -> reserved specimens -> bank application.
        seals = seal_request(seals=("official", "invoice"))
        filed = adapters["seal"].submit(seals, idempotency_key=new_key())
        assert isinstance(filed, Done)
        reserved = reserved_specimens(filed.result)
        assert [s.kind for s in reserved] == ["official"]  # no finance + legal-rep pair ordered
        request = bank_account_request(credit_code=seals.credit_code, seal_specimens=reserved)
        assert isinstance(adapters["bank_account"].submit(request, idempotency_key=new_key()), Done)

    def refused(self, adapters: Adapters, **overrides: Any) -> RejectedError:
        with pytest.raises(RejectedError) as caught:
            adapters["bank_account"].submit(
                bank_account_request(**overrides), idempotency_key=new_key()
            )
        return caught.value

    def test_no_specimens_is_refused(self, adapters: Adapters, sim: SimControl) -> None:
        assert self.refused(adapters, seal_specimens=()).code == "seal_specimens_missing"

    def test_a_finance_seal_alone_is_not_enough(self, adapters: Adapters, sim: SimControl) -> None:
        code = credit_code()
        error = self.refused(
            adapters, credit_code=code, seal_specimens=(specimen("finance", code),)
        )
        assert error.code == "seal_specimens_missing"

    def test_another_companys_seal_is_refused(self, adapters: Adapters, sim: SimControl) -> None:
        error = self.refused(adapters, seal_specimens=(specimen("official", credit_code()),))
        assert error.code == "seal_specimen_invalid"
        assert "公安备案" in error.message

    def test_an_altered_impression_is_refused(self, adapters: Adapters, sim: SimControl) -> None:
        code = credit_code()
        genuine = specimen("official", code)
        image = Image.open(io.BytesIO(base64.b64decode(genuine.image_base64)))
        info = getattr(image, "text", {})
        image.putpixel((128, 128), 0)  # one pixel scraped off the star
        out = io.BytesIO()
        meta = PngImagePlugin.PngInfo()
        for key, value in info.items():
            meta.add_text(key, value)
        image.save(out, format="PNG", pnginfo=meta, transparency=0)
        altered = genuine.model_copy(
            update={"image_base64": base64.b64encode(out.getvalue()).decode()}
        )
        error = self.refused(adapters, credit_code=code, seal_specimens=(altered,))
        assert error.code == "seal_specimen_invalid"

    def test_an_image_that_is_not_a_png_is_refused(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        code = credit_code()
        fake = specimen("official", code).model_copy(
            update={"image_base64": base64.b64encode(b"GIF89a not a seal").decode()}
        )
        error = self.refused(adapters, credit_code=code, seal_specimens=(fake,))
        assert error.code == "seal_specimen_invalid"
