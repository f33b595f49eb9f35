"""Writing a benchmark to the results database as its runs finish, off the hot path and never in its way.

The run_finished hook only queues a job; one writer greenlet hands the jobs, in order, to one real thread
(the drivers' calls block: SQLite's fsync, libpq), so the event loop keeps serving requests while a run is written.
The experiment folder stays the source of truth: a database that is down costs one log line, then no more writes
(`genai-bench db import` loads the folder later).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import gevent
from gevent.queue import Queue
from gevent.threadpool import ThreadPool

from genai_bench.database.settings import ResultsDbSettings, shown_url
from genai_bench.database.store import ResultsStore, one_line
from genai_bench.results import Experiment, load_run

log = logging.getLogger(__name__)
# At the end of a benchmark, the writes still queued get this long before they are given up (with a log line).
FINISH_TIMEOUT_SECONDS = 30.0


class ResultsDatabaseListener:
    """Listens to a benchmark's hooks and writes its experiment, runs and request records to the database."""

    def __init__(self, settings: ResultsDbSettings, folder: Path, run_files: list[Path],
                 metadata: Callable[[], dict], say: Callable[[str, str], None]) -> None:
        self.settings = settings
        self.folder = Path(folder)
        self.run_files = run_files  # the experiment writer's list: its last entry is the run just written
        self.metadata = metadata
        self.say = say
        self.store: ResultsStore | None = None
        self.experiment_id: int | None = None
        self.failed = False
        self.written_runs = 0
        self.jobs: Queue = Queue()
        self.thread = ThreadPool(1)
        self.worker = gevent.spawn(self._work)

    @classmethod
    def of(cls, settings: ResultsDbSettings, folder: Path, run_files: list[Path], metadata: Callable[[], dict],
           say: Callable[[str, str], None]) -> ResultsDatabaseListener | None:
        """A listener when --results-db is given (a bad setting is a one-line ConfigError here), else None."""
        if settings.validate().url is None:
            return None
        return cls(settings, folder, run_files, metadata, say)

    def attach(self, hooks) -> None:
        """Write each run when it finishes (after its run file: the folder comes first)."""
        hooks.run_finished.add_listener(self.on_run_finished)

    def on_run_finished(self, **_) -> None:
        """Queue the run just written to the folder; O(1) here, the work happens on the writer's thread."""
        if not self.failed and self.run_files:
            self.jobs.put((self._write_run, (self._experiment(), self.run_files[-1])))

    def finish(self, metadata: dict, timeout: float = FINISH_TIMEOUT_SECONDS) -> None:
        """Write the experiment's final row (`metadata` as written at the end), then wait (bounded) for the queued
        writes and close the database."""
        if not self.failed:
            self.jobs.put((self._write_experiment, (self._experiment(metadata),)))
        self.jobs.put(StopIteration)
        self.worker.join(timeout)
        if not self.worker.dead:
            self.worker.kill()
            self._report(f"results database {self._shown}: writes still pending after {timeout:g} s were given up")
        try:
            self.thread.spawn(self._close).get(timeout=5.0)
        except (Exception, gevent.Timeout):
            log.debug("closing the results database failed", exc_info=True)
        self.thread.kill()

    @property
    def _shown(self) -> str:
        return shown_url(self.settings.url)

    def _experiment(self, metadata: dict | None = None) -> Experiment:
        # The metadata as it stands now (the end time and partial flag arrive with the last write).
        return Experiment(self.folder.name, self.folder, metadata or self.metadata(), [], [])

    def _work(self) -> None:
        for job, args in self.jobs:
            if self.failed:
                continue
            try:
                failure = self.thread.apply(_caught, (job, args))
                if failure is not None:
                    raise failure
            except Exception as exc:  # a database that is down never stops the benchmark: one line, then no more
                self.failed = True
                self._report(f"results database {self._shown} unavailable ({one_line(exc)}); the benchmark goes on "
                             f"without it, the results stay in {self.folder} (load them later with "
                             f"genai-bench db import --experiment-folder {self.folder})")

    def _report(self, message: str) -> None:
        log.debug(message)
        self.say(message, "warning")

    # ---- run on the writer's thread

    def _connected(self) -> ResultsStore:
        if self.store is None:
            self.store = ResultsStore.connect(self.settings.url)
        return self.store

    def _write_experiment(self, experiment: Experiment) -> int:
        self.experiment_id = self._connected().save_experiment(experiment)
        return self.experiment_id

    def _write_run(self, experiment: Experiment, path: Path) -> None:
        experiment_id = self._write_experiment(experiment)
        run = load_run(path)
        if run is not None:
            self.store.save_run(experiment_id, run, self.settings.request_limit)
            self.written_runs += 1

    def _close(self) -> None:
        if self.store is not None:
            self.store.close()


def _caught(job: Callable, args: tuple) -> Exception | None:
    """Run `job` on the writer's thread and hand back its exception (gevent's pool would print its traceback)."""
    try:
        job(*args)
    except Exception as exc:
        return exc
    return None
