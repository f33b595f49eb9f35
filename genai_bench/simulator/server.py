"""Serving the simulator: one gevent WSGI server in this process, and extra processes sharing its port."""

import json
import socket
import subprocess
import sys
from dataclasses import asdict

import gevent
from gevent.pywsgi import WSGIServer

from genai_bench.processes import end_children, follow_parent, freeze_long_lived_objects, spawn_child
from genai_bench.receive_times import enable_receive_timestamps
from genai_bench.simulator.app import make_simulator_app
from genai_bench.simulator.config import SimulatorConfig
from genai_bench.simulator.http_handler import FastHandler
from genai_bench.tokenizer import Tokenizer

# A deep backlog: a benchmark opens hundreds of connections at once, and overflow costs 1 s SYN retries.
_BACKLOG = 4096
# How long `simulate --workers N` waits for each extra process to listen.
WORKER_START_TIMEOUT = 30.0


def _shared_listener(host: str, port: int) -> socket.socket:
    """A listening socket that other processes may bind too (SO_REUSEPORT): the kernel spreads connections."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(_BACKLOG)
    return listener


class SimulatorServer:
    """The simulator served by gevent's WSGI server; binds on start() (port 0 picks a free port).

    With `shared_port`, other processes can serve the same port (see SimulatorWorkers).
    """

    def __init__(self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0,
                 tokenizer: Tokenizer | None = None, shared_port: bool = False) -> None:
        self.config = config or SimulatorConfig()
        self.app = make_simulator_app(self.config, tokenizer)
        if shared_port:
            self._server = WSGIServer(_shared_listener(host, port), self.app, log=None, handler_class=FastHandler)
        else:
            self._server = WSGIServer((host, port), self.app, log=None, handler_class=FastHandler, backlog=_BACKLOG)

    def start(self) -> "SimulatorServer":
        """Bind and start serving from the gevent hub; returns self."""
        if not self._server.started:
            self._server.start()
            # Turning stamps on early makes the kernel stamp packets before the first connection is accepted.
            enable_receive_timestamps(self._server.socket)
        return self

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.server_port

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:8000."""
        return f"http://{self._server.server_host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until stop() is called (used by `genai-bench simulate`)."""
        self._server.serve_forever()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop accepting, give open streams `timeout` seconds, then close them."""
        self._server.stop(timeout=timeout)

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SimulatorWorkers:
    """Extra simulator processes serving the same port as this one, so bursts of requests are taken in parallel.

    One process takes a burst of simultaneous requests one at a time; on one core, hundreds of them arriving
    together take longer to read than a short TTFT. The kernel (SO_REUSEPORT, Linux) spreads new connections over
    every process listening on the port. Each worker gets the config on stdin and exits with this process.
    """

    def __init__(self, config: SimulatorConfig, host: str, port: int, count: int) -> None:
        self.processes: list[subprocess.Popen] = []
        for index in range(1, count):
            settings = asdict(config)
            if config.seed is not None:
                settings["seed"] = config.seed + index
            process = spawn_child(["simulate-worker", "--host", host, "--port", str(port)],
                                  json.dumps(settings).encode() + b"\n", stdout=subprocess.PIPE)
            self.processes.append(process)
        for process in self.processes:
            self._wait_listening(process)

    def _wait_listening(self, process: subprocess.Popen) -> None:
        with gevent.Timeout(WORKER_START_TIMEOUT, False):
            line = process.stdout.readline()  # gevent's subprocess pipes are cooperative
            if line.startswith(b"listening"):
                return
        self.stop()
        raise OSError(f"a simulator worker did not start (exit code {process.poll()})")

    def stop(self) -> None:
        """End every worker process."""
        end_children(self.processes)


def run_simulator_worker(host: str, port: int, parent_pid: int | None) -> None:
    """The `genai-bench simulate-worker` process: read the config from stdin, serve the shared port until told."""
    follow_parent(parent_pid)
    settings = json.loads(sys.stdin.readline())
    server = SimulatorServer(SimulatorConfig(**settings), host=host, port=port, shared_port=True).start()
    freeze_long_lived_objects()
    sys.stdout.write("listening\n")
    sys.stdout.flush()
    server.serve_forever()
