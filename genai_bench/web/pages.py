"""The dashboard page."""

from __future__ import annotations

from flask import Blueprint, render_template

from genai_bench.web.context import web_context

blueprint = Blueprint("pages", __name__)


@blueprint.get("/")
def index():
    """The live dashboard (and, once finished, the results)."""
    context = web_context()
    return render_template("index.html", title=context.title, model=context.state.status.get("model") or "")
