"""`benchmark --distributed`: a Locust master that waits for `genai-bench worker` processes from any host."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

# Where the master listens by default: this host only. 0.0.0.0 (every interface) is for workers on other hosts.
LOOPBACK = "127.0.0.1"
MAX_EXPECTED_WORKERS = 256
MAX_WAIT_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class ClusterSettings:
    """The --distributed options: how many workers to wait for, where, and how long."""

    distributed: bool = False
    expect_workers: int = 0
    master_bind_host: str = LOOPBACK
    expect_workers_max_wait: float = 60.0

    @classmethod
    def of(cls, options: dict[str, Any]) -> ClusterSettings:
        """The settings from parsed `benchmark` options."""
        return cls(bool(options["distributed"]), options["expect_workers"] or 0, options["master_bind_host"],
                   options["expect_workers_max_wait"])

    def checks(self, num_workers: int) -> list[tuple[bool, str]]:
        """(ok, one-line message) pairs like BenchmarkConfig.validate's; `num_workers` is the config's."""
        return [
            (not self.distributed or 1 <= self.expect_workers <= MAX_EXPECTED_WORKERS,
             f"--distributed needs --expect-workers N: the `genai-bench worker` processes to wait for (1 to "
             f"{MAX_EXPECTED_WORKERS})"),
            (self.distributed or not self.expect_workers, "--expect-workers needs --distributed"),
            (self.distributed or self.master_bind_host == LOOPBACK,
             "--master-bind-host needs --distributed (local --num-workers connect on 127.0.0.1)"),
            (0 < self.expect_workers_max_wait <= MAX_WAIT_SECONDS,
             f"--expect-workers-max-wait must be positive seconds, at most {MAX_WAIT_SECONDS:g} (a day)"),
            (bool(self.master_bind_host.strip()), "--master-bind-host must be an address, e.g. 0.0.0.0"),
            (not self.distributed or num_workers == self.expect_workers,
             "--distributed: the config's num_workers must be --expect-workers (the processes that will join)"),
        ]

    def warnings(self, api_base: str | None) -> list[str]:
        """The master open beyond this host (whoever reaches its port can join and gets the settings), and remote
        workers sent to the embedded simulator, which listens on this host's loopback only."""
        if not self.distributed or _is_loopback(self.master_bind_host):
            return []
        found = [f"--master-bind-host {self.master_bind_host}: any host reaching the master's port can join as a "
                 "worker and receives the target, its API key and the workload; keep that port on a private network"]
        if api_base is None:
            found.append("no --api-base: the embedded simulator listens on 127.0.0.1 here, which workers on other "
                         "hosts cannot reach; give --api-base of a server they can")
        return found


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
