"""Steps are declared once and districts' graphs are data: checked against the declarations,
every step with its agency, labels and request builder."""

from __future__ import annotations

import pytest

from integrations.registry import agencies, build_adapters
from orchestrator.filings.agency_requests import BUILDERS
from orchestrator.reference import load_reference
from orchestrator.workflow import (
    HANDOVER_STEP,
    StepSpec,
    WorkflowError,
    by_name,
    declare,
    graph,
)

SHOUGUANG, RENCHENG = "370783", "370811"


class TestTheStandardGraph:
    """Rencheng's, and every district's without a policy of its own: as it always was."""

    def test_registration_is_the_only_root(self) -> None:
        assert load_reference().graph_of(RENCHENG).roots() == ("registration",)

    def test_bank_account_follows_seal_engraving(self) -> None:
        g = load_reference().graph_of(RENCHENG)
        assert g.needs["bank_account"] == ("seal",)
        assert g.successors("seal") == ("bank_account",)

    def test_registration_fans_out_to_five_steps(self) -> None:
        g = load_reference().graph_of(RENCHENG)
        assert set(g.successors("registration")) == {
            "seal",
            "tax",
            "social_insurance",
            "medical_insurance",
            "housing_fund",
        }

    def test_delivery_depends_on_every_other_step(self) -> None:
        g = load_reference().graph_of(RENCHENG)
        assert set(g.upstream(HANDOVER_STEP)) == set(g.needs) - {HANDOVER_STEP}

    def test_requests_read_the_steps_that_give_what_they_use(self) -> None:
        g = load_reference().graph_of(RENCHENG)
        assert g.reads("bank_account") == ("registration", "seal")
        assert g.reads(HANDOVER_STEP) == ("registration",)


class TestShouguangsSplitGraph:
    def test_the_bank_checks_the_people_from_acceptance(self) -> None:
        g = load_reference().graph_of(SHOUGUANG)
        assert g.roots() == ("registration", "bank_precheck")

    def test_the_account_opens_with_the_filed_impressions_beside_the_engraving(self) -> None:
        g = load_reference().graph_of(SHOUGUANG)
        assert g.needs["seal_design"] == ("registration",)
        assert set(g.needs["bank_account"]) == {"bank_precheck", "seal_design"}
        assert g.needs["seal"] == ("seal_design",)
        assert "seal" not in g.upstream("bank_account")
        assert g.reads("bank_account") == ("registration", "seal_design", "bank_precheck")

    def test_delivery_waits_for_the_seals_the_courier_brings(self) -> None:
        g = load_reference().graph_of(SHOUGUANG)
        assert "seal" in g.needs[HANDOVER_STEP]


class TestDeclarations:
    def test_every_step_has_a_request_builder_an_adapter_and_labels(self) -> None:
        adapters = build_adapters("http://127.0.0.1:9", timeout=1)
        for spec in by_name().values():
            assert callable(BUILDERS[spec.name])
            assert spec.agency in adapters
            assert spec.label_zh and spec.label_en

    def test_refuses_a_step_declared_twice(self) -> None:
        with pytest.raises(WorkflowError, match="twice"):
            declare(by_name()["tax"])

    def test_refuses_a_step_of_an_agency_integrations_do_not_declare(self) -> None:
        assert "notary" not in agencies()
        with pytest.raises(WorkflowError, match="no agency"):
            declare(StepSpec("notarise", "notary", "公证", "Notarised"))
        assert "notarise" not in by_name()


class TestGraphValidation:
    def test_refuses_an_undeclared_step(self) -> None:
        with pytest.raises(WorkflowError, match="undeclared"):
            graph([("registration", ()), ("notarise", ("registration",)), (HANDOVER_STEP, ())])

    def test_refuses_a_step_listed_twice(self) -> None:
        with pytest.raises(WorkflowError, match="twice"):
            graph([("registration", ()), ("registration", ()), (HANDOVER_STEP, ("registration",))])

    def test_refuses_a_need_listed_later(self) -> None:
        with pytest.raises(WorkflowError, match="not listed before"):
            graph([("tax", ("registration",)), ("registration", ()), (HANDOVER_STEP, ("tax",))])

    def test_refuses_a_step_whose_request_lacks_what_it_uses(self) -> None:
        # The account needs the filed impressions: from a step it waits for.
        with pytest.raises(WorkflowError, match="seal_impressions"):
            graph(
                [
                    ("registration", ()),
                    ("bank_account", ("registration",)),
                    (HANDOVER_STEP, ("bank_account",)),
                ]
            )

    def test_refuses_a_graph_not_ending_in_delivery_or_a_step_leading_nowhere(self) -> None:
        with pytest.raises(WorkflowError, match="ends in"):
            graph([("registration", ())])
        with pytest.raises(WorkflowError, match="lead nowhere"):
            graph(
                [
                    ("registration", ()),
                    ("tax", ("registration",)),
                    (HANDOVER_STEP, ("registration",)),
                ]
            )
