"""An embedded OpenAI-compatible simulated LLM server with precise token timing and real-server quirks (§9).

config: the settings; app: the endpoints and timed answers; responses: plans, SSE frames, error bodies; clock: the
deadlines streams wake at; http_handler: pywsgi's request parsing and receive stamps; server: serving it, in one
process or several sharing a port.
"""

from genai_bench.simulator.app import SimulatorApp, StartResponse, WSGIApp, make_simulator_app
from genai_bench.simulator.clock import INTAKE_HORIZON
from genai_bench.simulator.config import SimulatorConfig
from genai_bench.simulator.http_handler import RECEIVED_AT_KEY
from genai_bench.simulator.server import WORKER_START_TIMEOUT, SimulatorServer, SimulatorWorkers, run_simulator_worker

__all__ = ["INTAKE_HORIZON", "RECEIVED_AT_KEY", "WORKER_START_TIMEOUT", "SimulatorApp", "SimulatorConfig",
           "SimulatorServer", "SimulatorWorkers", "StartResponse", "WSGIApp", "make_simulator_app",
           "run_simulator_worker"]
