"""Dashboard panels from plugins (`genai_bench.panels`): their scripts are listed on the live page, and each panel's
folder is served at /plugins/<name>/ (docs/plugins.md describes the page's window.genaiPanels API)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from flask import Blueprint, abort, send_from_directory

from genai_bench.plugins import PANELS_GROUP, Panel, load_group
from genai_bench.web.context import web_context

log = logging.getLogger(__name__)
blueprint = Blueprint("panels", __name__)
PANEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # the name is a URL path segment and a DOM id part


def installed_panels(report: Callable[[str], None] = log.warning) -> dict[str, Panel]:
    """Every installed panel by its entry point's name; one that is malformed is reported in one line and skipped."""
    panels = {}
    for plugin in load_group(PANELS_GROUP, report):
        try:
            if not PANEL_NAME.fullmatch(plugin.name):
                raise ValueError("its name must be letters, digits, '.', '_' or '-'")
            panels[plugin.name] = Panel.of(plugin.target)
        except Exception as exc:  # a broken plugin must never stop the dashboard
            report(f"plugin {plugin.name!r} ({PANELS_GROUP}) is skipped: {type(exc).__name__}: {exc}")
    return panels


def page_panels() -> list[dict]:
    """What the live page needs of each panel: its name, title, event types and script file."""
    return [{"name": name, "title": panel.title, "events": list(panel.events), "script": panel.script.name}
            for name, panel in web_context().panels.items()]


@blueprint.get("/plugins/<name>/<path:filename>")
def panel_asset(name: str, filename: str):
    """A file of a panel's folder (its script, and whatever it loads beside it)."""
    panel = web_context().panels.get(name)
    if panel is None:
        abort(404, f"no panel plugin named {name!r} is installed")
    return send_from_directory(panel.folder, filename)
