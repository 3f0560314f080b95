"""The step graph is data: checked once, and every step has its agency and request builder."""

from __future__ import annotations

import pytest

from integrations.registry import build_adapters
from orchestrator.filings.agency_requests import BUILDERS
from orchestrator.workflow import (
    FINAL_STEP,
    STEPS,
    StepSpec,
    WorkflowError,
    by_name,
    reads,
    roots,
    successors,
    upstream,
    validate,
)


class TestTheDeclaredGraph:
    def test_registration_is_the_only_root(self) -> None:
        assert roots() == ("registration",)

    def test_bank_account_follows_seal_engraving(self) -> None:
        assert by_name()["bank_account"].needs == ("seal",)
        assert successors("seal") == ("bank_account",)

    def test_registration_fans_out_to_five_steps(self) -> None:
        assert set(successors("registration")) == {
            "seal",
            "tax",
            "social_insurance",
            "medical_insurance",
            "housing_fund",
        }

    def test_delivery_depends_on_every_other_step(self) -> None:
        assert set(upstream(FINAL_STEP)) == {s.name for s in STEPS} - {FINAL_STEP}

    def test_every_step_has_a_request_builder_and_an_adapter(self) -> None:
        adapters = build_adapters("http://127.0.0.1:9", timeout=1)
        for spec in STEPS:
            assert spec.name in BUILDERS
            assert spec.agency in adapters
            assert spec.label_zh and spec.label_en


class TestValidation:
    def test_refuses_a_step_declared_twice(self) -> None:
        with pytest.raises(WorkflowError, match="twice"):
            validate([StepSpec("a", "x"), StepSpec("a", "x")])

    def test_refuses_a_need_declared_later_or_unknown(self) -> None:
        with pytest.raises(WorkflowError, match="needs"):
            validate([StepSpec("a", "x", ("b",)), StepSpec("b", "x")])

    def test_refuses_reading_a_step_it_does_not_wait_for(self) -> None:
        with pytest.raises(WorkflowError, match="reads"):
            validate(
                [StepSpec("a", "x"), StepSpec("b", "x"), StepSpec("c", "x", ("a",), reads=("b",))]
            )

    def test_reads_what_it_waits_for_unless_declared(self) -> None:
        assert reads("bank_account") == ("registration", "seal")
        assert reads(FINAL_STEP) == ("registration",)
