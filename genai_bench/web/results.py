"""Finished (and live) experiments: listing, runs, per-request drill-down, downloads and replay."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, request

from genai_bench.replay import ReplayError
from genai_bench.report import REPORT_FORMATS, render_report
from genai_bench.results import ExperimentFilter, ExperimentNotFound
from genai_bench.web.context import error_response, web_context
from genai_bench.web.security import REPORT_POLICY

blueprint = Blueprint("results", __name__)
DOWNLOAD_TYPES = {"html": "text/html", "csv": "text/csv", "json": "application/json"}


@blueprint.errorhandler(ExperimentNotFound)
def not_found(exc: ExperimentNotFound):
    """Unknown experiment or run: the usual error shape."""
    return error_response(404, str(exc))


@blueprint.errorhandler(ReplayError)
def replay_refused(exc: ReplayError):
    """A replay that cannot start."""
    return error_response(exc.status, str(exc))


@blueprint.get("/api/experiments")
def experiments():
    """Summaries of the experiments this dashboard serves, newest first; ?model=&engine=&version=&gpu=&scenario=
    &since=&until= keep those that match (docs/results-api.md)."""
    context = web_context()
    try:
        where = ExperimentFilter.of(request.args)
    except ValueError as exc:
        return error_response(400, str(exc))
    return {"experiments": [e.summary() for e in context.library.select(where)], "mode": context.mode,
            "filter": {name: value for name, value in asdict(where).items() if value is not None}}


@blueprint.get("/api/experiments/<experiment_id>")
def experiment(experiment_id: str):
    """One experiment's summary, metadata and runs."""
    return web_context().library.get(experiment_id).to_dict()


@blueprint.get("/api/experiments/<experiment_id>/runs/<key>/requests")
def run_requests(experiment_id: str, key: str):
    """Per-request points and histograms of one run."""
    return web_context().library.get(experiment_id).run(key).requests()


@blueprint.get("/api/experiments/<experiment_id>/report.<fmt>")
def report(experiment_id: str, fmt: str):
    """The experiment's report as a download."""
    if fmt not in REPORT_FORMATS:
        return error_response(404, f"no {fmt!r} report; formats: {', '.join(REPORT_FORMATS)}")
    experiment = web_context().library.get(experiment_id)
    headers = {"Content-Disposition": f'attachment; filename="{experiment.folder.name}-report.{fmt}"'}
    if fmt == "html":
        headers["Content-Security-Policy"] = REPORT_POLICY  # its scripts are inline, so that it opens from disk
    return Response(render_report([experiment], fmt), mimetype=DOWNLOAD_TYPES[fmt], headers=headers)


@blueprint.get("/api/replay")
def replay_status():
    """What is being replayed."""
    return web_context().replayer.status()


@blueprint.post("/api/replay")
def replay_start():
    """Replay an experiment's event log through the live stream: {"experiment": id, "speed": 10}."""
    body = request.get_json(silent=True) or {}
    try:
        speed = float(body.get("speed", 1))
    except (TypeError, ValueError):
        return error_response(400, "speed must be a number")
    if not isinstance(body.get("experiment"), str):
        return error_response(400, 'send {"experiment": "<id>", "speed": <1-1000>}')
    return web_context().replayer.start(body["experiment"], speed)


@blueprint.post("/api/replay/stop")
def replay_stop():
    """Stop the replay under way."""
    replayer = web_context().replayer
    replayer.stop()
    return replayer.status()
