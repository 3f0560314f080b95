"""One ASGI app that plays every agency, plus the control endpoints tests and scenarios use.

    GET  /healthz
    GET  /_sim/effects                 effects per agency and key, and the duplicates total
    GET  /_sim/durations               ms each agency spent per key, from submit to outcome
    GET  /_sim/{agency}/behaviour
    PUT  /_sim/{agency}/behaviour      replace the agency's behaviour (a `Behaviour` body)
    POST /_sim/reset                   forget everything; behaviours back to the config's

Each agency also gets its own routes: the SOAP agencies (seal, bank account, tax, social
insurance) `/{agency}/soap` (see `integrations.simulators.soap`), the others `/{agency}/v1`
(see `integrations.simulators.rest`).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, get_args

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from integrations.simulators.bank_account import BankAccountRules
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
from integrations.simulators.seal import SealRules
from integrations.simulators.soap import SOAP_SERVICES, soap_routes
from integrations.simulators.social_insurance import SocialInsuranceRules
from integrations.simulators.tax import TaxRules

AgencyName = Literal[
    "registration",
    "seal",
    "bank_account",
    "tax",
    "social_insurance",
    "medical_insurance",
    "housing_fund",
    "courier",
]

AGENCY_RULES: dict[str, Callable[[random.Random], AgencyRules]] = {
    "registration": RegistrationRules,
    "seal": SealRules,
    "bank_account": BankAccountRules,
    "tax": TaxRules,
    "social_insurance": SocialInsuranceRules,
    "medical_insurance": MedicalInsuranceRules,
    "housing_fund": HousingFundRules,
    "courier": CourierRules,
}
ALL_AGENCIES: tuple[AgencyName, ...] = get_args(AgencyName)


class SimulatorConfig(BaseModel):
    """Which agencies to play and how they behave at start (and after a reset)."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(
        default=None, description="Seeds numbering and fault dice; None: a random seed."
    )
    agencies: tuple[AgencyName, ...] = ALL_AGENCIES
    behaviours: dict[AgencyName, Behaviour] = Field(default_factory=dict)
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
    """The simulated agencies of `config` (all eight by default) in one ASGI app.

    `time_model` says when an agency's work is done (default: latency in wall-clock time).
    """
    config = config or SimulatorConfig()
    seed = config.seed if config.seed is not None else secrets.randbits(32)
    rules: dict[str, Callable[[random.Random], AgencyRules]] = {
        **AGENCY_RULES,
        "registration": partial(RegistrationRules, licence_verify_url=config.licence_verify_url),
    }
    sims: dict[str, AgencySimulator] = {
        name: AgencySimulator(
            rules[name],
            behaviour=config.behaviours.get(name),
            seed=seed,
            time_model=time_model,
        )
        for name in dict.fromkeys(config.agencies)
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
        return {"status": "ok", "agencies": list(sims), "seed": seed}

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

    @app.post("/_sim/reset", tags=["control"])
    def reset() -> dict[str, str]:
        for sim in sims.values():
            sim.reset()
        return {"status": "reset"}

    for name, sim in sims.items():
        service = SOAP_SERVICES.get(name)
        app.router.routes.extend(
            agency_routes(sim) if service is None else soap_routes(sim, service)
        )
    return app
