"""One ASGI app that plays every agency, plus the control endpoints tests and scenarios use.

    GET  /healthz
    GET  /_sim/effects                 effects per agency and key, and the duplicates total
    GET  /_sim/durations               ms each agency spent per key, from submit to outcome
    GET  /_sim/{agency}/behaviour
    PUT  /_sim/{agency}/behaviour      replace the agency's behaviour (a `Behaviour` body)
    GET  /_sim/sms/messages            every text the SMS gateway sent (`?to=` one number's)
    POST /_sim/reset                   forget everything; behaviours back to the config's

Each agency also gets its own routes: the SOAP agencies (seal, bank account, tax, social
insurance) `/{agency}/soap` (see `integrations.simulators.soap`), the others `/{agency}/v1`
(see `integrations.simulators.rest`). The SMS gateway (`sms`), which no step of a filing
names, is served, faulted and reset the same way (`/sms/v1`).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from integrations.agencies import AGENCIES, GATEWAYS, AgencyName, GatewayName
from integrations.simulators.bank_account import BankAccountRules, BankDesk, BankPrecheckRules
from integrations.simulators.courier import CourierRules
from integrations.simulators.engine import (
    AgencyRules,
    AgencySimulator,
    Behaviour,
    TimeModel,
    duplicates,
    wall_clock,
)
from integrations.simulators.housing_fund import HousingFundRules
from integrations.simulators.licence import DEFAULT_VERIFY_URL, check_verify_url_template
from integrations.simulators.medical_insurance import MedicalInsuranceRules
from integrations.simulators.registration import RegistrationRules
from integrations.simulators.rest import agency_routes
from integrations.simulators.seal import Engraver, SealDesignRules, SealRules
from integrations.simulators.sms import SmsRules
from integrations.simulators.soap import SOAP_SERVICES, soap_routes
from integrations.simulators.social_insurance import SocialInsuranceRules
from integrations.simulators.tax import TaxRules

# The agencies whose rules keep no books shared with another's (the engraver's design filing
# and engraving share theirs, the bank's pre-check and account opening theirs).
AGENCY_RULES: dict[str, Callable[[random.Random], AgencyRules]] = {
    "registration": RegistrationRules,
    "tax": TaxRules,
    "social_insurance": SocialInsuranceRules,
    "medical_insurance": MedicalInsuranceRules,
    "housing_fund": HousingFundRules,
    "courier": CourierRules,
    "sms": SmsRules,
}


class SimulatorConfig(BaseModel):
    """Which agencies to play and how they behave at start (and after a reset)."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(
        default=None, description="Seeds numbering and fault dice; None: a random seed."
    )
    agencies: tuple[AgencyName, ...] = AGENCIES
    gateways: tuple[GatewayName, ...] = GATEWAYS
    behaviours: dict[AgencyName | GatewayName, Behaviour] = Field(default_factory=dict)
    licence_verify_url: str = Field(
        default=DEFAULT_VERIFY_URL,
        description="Where the QR code of an e-business licence leads ({token}, the licence's "
        "verification token, and {licence_no} filled in).",
    )

    @field_validator("licence_verify_url")
    @classmethod
    def _fillable(cls, template: str) -> str:
        return check_verify_url_template(template)


class EffectsReport(BaseModel):
    """How many times each agency's real-world action happened, per idempotency key.

    `duplicates` sums the effects beyond the first per key (0 when every key acted once);
    `subjects` counts the same per business subject (e.g. credit code) whatever the key, so
    a caller that sends one step under two keys shows up in `subject_duplicates`.
    """

    effects: dict[str, dict[str, int]]
    duplicates: int
    subjects: dict[str, dict[str, int]]
    subject_duplicates: int


def create_app(
    config: SimulatorConfig | None = None, *, time_model: TimeModel = wall_clock
) -> FastAPI:
    """The simulated agencies of `config` (all of them by default) in one ASGI app.

    `time_model` says when an agency's work is done (default: latency in wall-clock time).
    """
    config = config or SimulatorConfig()
    seed = config.seed if config.seed is not None else secrets.randbits(32)
    engraver, desk = Engraver(seed), BankDesk(seed)
    rules: dict[str, Callable[[random.Random], AgencyRules]] = {
        **AGENCY_RULES,
        "registration": partial(RegistrationRules, licence_verify_url=config.licence_verify_url),
        "bank_precheck": partial(BankPrecheckRules, desk=desk),
        "seal_design": partial(SealDesignRules, engraver=engraver),
        "seal": partial(SealRules, engraver=engraver),
        "bank_account": partial(BankAccountRules, desk=desk),
    }
    sims: dict[str, AgencySimulator] = {
        name: AgencySimulator(
            rules[name],
            behaviour=config.behaviours.get(name),
            seed=seed,
            time_model=time_model,
        )
        for name in dict.fromkeys((*config.agencies, *config.gateways))
    }
    app = FastAPI(
        title="OneStop agency simulators",
        description="Simulated agencies: state, rules, idempotency keys, and scripted faults.",
    )
    app.state.simulators = sims
    app.state.seed = seed

    def simulator(agency: str) -> AgencySimulator:
        sim = sims.get(agency)
        if sim is None:
            raise HTTPException(status_code=404, detail=f"no simulated agency {agency!r}")
        return sim

    @app.get("/healthz", tags=["control"])
    def healthz() -> dict[str, Any]:
        agencies = [name for name in sims if name not in config.gateways]
        gateways = [name for name in sims if name in config.gateways]
        return {"status": "ok", "agencies": agencies, "gateways": gateways, "seed": seed}

    @app.get("/_sim/effects", tags=["control"])
    def effects() -> EffectsReport:
        per_key = {name: sim.effects() for name, sim in sims.items()}
        per_subject = {name: sim.subjects() for name, sim in sims.items()}
        return EffectsReport(
            effects=per_key,
            duplicates=sum(duplicates(counts) for counts in per_key.values()),
            subjects=per_subject,
            subject_duplicates=sum(duplicates(counts) for counts in per_subject.values()),
        )

    @app.get("/_sim/durations", tags=["control"])
    def durations() -> dict[str, dict[str, float]]:
        """Per agency and idempotency key: milliseconds from the submit's arrival until the
        agency answered it with the final outcome (or, answered 202, until that was ready)."""
        return {name: sim.durations() for name, sim in sims.items()}

    @app.get("/_sim/{agency}/behaviour", tags=["control"])
    def get_behaviour(agency: str) -> Behaviour:
        return simulator(agency).behaviour

    @app.put("/_sim/{agency}/behaviour", tags=["control"])
    def put_behaviour(agency: str, behaviour: Behaviour) -> Behaviour:
        simulator(agency).behaviour = behaviour
        return behaviour

    @app.get("/_sim/sms/messages", tags=["control"])
    def sms_messages(to: str | None = None) -> dict[str, Any]:
        """Every text the SMS gateway sent, oldest first; read past any scripted outage."""
        answer = simulator("sms").query("messages", {} if to is None else {"to": to})
        assert answer is not None  # the gateway's rules answer `messages`
        return answer

    @app.post("/_sim/reset", tags=["control"])
    def reset() -> dict[str, str]:
        for sim in sims.values():
            sim.reset()
        engraver.clear()
        desk.clear()
        return {"status": "reset"}

    for name, sim in sims.items():
        service = SOAP_SERVICES.get(name)
        app.router.routes.extend(
            agency_routes(sim) if service is None else soap_routes(sim, service)
        )
    return app
