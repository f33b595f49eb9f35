"""A `genai_bench.panels` plugin: a card on the live page charting requests/s and errors from `metrics` events."""

from pathlib import Path

from genai_bench.plugins import Panel

PANEL = Panel(title="Requests/s and errors (example plugin)", events=("metrics", "run_started"),
              script=Path(__file__).parent / "static" / "panel.js")
