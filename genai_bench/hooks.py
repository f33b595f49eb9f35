"""The sweep's named hooks: the runner fires them, and every view (bus publisher, terminal, writer) listens.

Locust's own `EventHook` carries them: keyword-only `fire(**kwargs)`, and a listener that raises is logged
without breaking the load loop. Payloads are the typed objects of `live_events`.
"""

from __future__ import annotations

from locust.event import EventHook


class SweepHooks:
    """The hooks of one benchmark sweep, each documented with the keywords it is fired with."""

    def __init__(self) -> None:
        self.status = EventHook()
        """The sweep's state changed: `sweep` (live_events.SweepStatus)."""
        self.run_started = EventHook()
        """A run begins: `run` (PlannedRun), `start_time` (unix s)."""
        self.request_finished = EventHook()
        """One request was recorded (hot path, keep listeners O(1)): `record`, `completed`, `errors`, `total`."""
        self.live_tick = EventHook()
        """Fresh live statistics (on a timer): `progress` (RunProgress), `live_metrics`, `histograms`, `timestamp`."""
        self.run_finished = EventHook()
        """A run ended: `run` (PlannedRun), `result` (runner.RunResult), `finished` (run_completed data of every run
        so far, this one last)."""
        self.search = EventHook()
        """A capacity search planned or judged a step: `progress` (live_events.SearchProgress)."""
        self.server_metrics = EventHook()
        """The servers' /metrics were scraped (--server-metrics): `sample` (servermetrics.ServerSample), `run_key`
        (the run under way, or None between runs)."""
        self.alert = EventHook()
        """An --alert rule fired or resolved: `alert` (live_events.AlertChange)."""
        self.log = EventHook()
        """A line for the log: `message`, `level` (info, warning, error)."""
