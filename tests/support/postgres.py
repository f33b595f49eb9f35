"""A real PostgreSQL server for tests: Debian's binaries, a temporary data directory, a free loopback port.

postgres refuses to run as root, so under root (CI) initdb and postgres run as the unprivileged `nobody`.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.servers import free_port

UNPRIVILEGED_USER = "nobody"


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<version>/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """initdb + postgres on 127.0.0.1:<free port>, trust authentication, stopped (and deleted) on stop()."""

    def __init__(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; scripts/bootstrap.sh --test)")
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="genai-bench-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.root / "postgres.log"
        self.user_ids: dict = {}
        if os.getuid() == 0:
            import pwd

            entry = pwd.getpwnam(UNPRIVILEGED_USER)
            self.user_ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def url(self, password: str = "") -> str:
        """A postgresql:// URL for the bench user (trust authentication ignores any password in it)."""
        secret = f":{password}" if password else ""
        return f"postgresql://bench{secret}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, **kwargs) -> subprocess.Popen:
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "HOME": str(self.root)}
        return subprocess.Popen([str(self.bin / args[0]), *args[1:]], env=env, cwd=self.root, **self.user_ids,
                                **kwargs)

    def start(self, timeout: float = 30.0) -> PostgresServer:
        """Create the cluster (first time) and start the server; returns once it accepts connections."""
        if not self.data.exists():
            init = self._run("initdb", "-D", str(self.data), "-U", "bench", "--auth=trust", "-E", "UTF8", "--no-sync",
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output = init.communicate(timeout=120)[0]
            if init.returncode:
                raise RuntimeError(f"initdb failed: {output.decode(errors='replace')}")
        with open(self.log, "ab") as log:
            self.proc = self._run("postgres", "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
                                  "-k", str(self.root), "-c", "fsync=off", "-c", "synchronous_commit=off",
                                  "-c", "full_page_writes=off", stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log.read_text(errors='replace')}")
            try:
                psycopg.connect(f"host=127.0.0.1 port={self.port} user=bench dbname=postgres", connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise RuntimeError(f"postgres did not accept connections within {timeout:g} s: {self.log.read_text()}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT): open connections are cut, the server exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self) -> None:
        """Stop the server and delete its data."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
