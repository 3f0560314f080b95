"""One catalogue of bilingual validation errors, shared by the API, filings and scenarios."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError, field_validator

import orchestrator.filings.schemas  # registers the filing's codes
import orchestrator.tools.scenarios.models  # noqa: F401  (registers the scenario's codes)
from orchestrator.validation import bilingual, fail, field_errors, message, register


class TestCatalogue:
    def test_a_code_registered_twice_is_refused(self) -> None:
        with pytest.raises(ValueError, match="registered twice"):
            register({"mobile_format": ("另一个", "another")})

    def test_filing_and_scenario_codes_share_it(self) -> None:
        assert message("mobile_format")[1].startswith("A mobile number")
        assert message("scenario_one_rate") == (
            "rate_per_hour与every须且只能填写一项",
            "give exactly one of rate_per_hour and every",
        )

    def test_an_error_raised_anywhere_reports_the_same_way(self) -> None:
        class Arrivals(BaseModel):
            every: int

            @field_validator("every")
            @classmethod
            def _positive(cls, value: int) -> int:
                if value <= 0:
                    raise fail("scenario_every_zero")
                return value

        with pytest.raises(ValidationError) as caught:
            Arrivals(every=0)
        (error,) = field_errors(caught.value)
        assert (error.field, error.code) == ("every", "scenario_every_zero")
        assert error.message_en == "the interval between arrivals must be more than 0"
        assert bilingual(caught.value.errors()[0]) == "到达间隔须大于0 / " + error.message_en
