"""The dashboard page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from genai_bench.web.context import web_context
from genai_bench.web.panels import page_panels

blueprint = Blueprint("pages", __name__)


@blueprint.get("/")
def index():
    """The live dashboard (and, once finished, the results)."""
    context = web_context()
    page = render_template("index.html", title=context.title, model=context.state.status.get("model") or "",
                           panels=page_panels())
    # With --static-url the page's scripts and styles come from that origin too (security.py adds the rest).
    return page, {"Content-Security-Policy": current_app.jinja_env.globals["static_assets"].page_policy()}
