"""integrations/simulators: the agencies, simulated with state, rules, idempotency and faults.

They are outside agencies: besides their own modules they import only what they share with
the adapters as published standards are shared (the national codes, the e-licence format and
its signatures, the registration form's limits), never the adapters, the request types or
the orchestrator.
"""

from integrations.simulators.app import SimulatorConfig, create_app
from integrations.simulators.engine import Behaviour
from integrations.simulators.server import BackgroundServer, serve_in_thread

__all__ = ["BackgroundServer", "Behaviour", "SimulatorConfig", "create_app", "serve_in_thread"]
