"""Extensions found through Python entry points: each group names what a plugin may add to genai-bench."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The groups of issue 19 (docs/plugins.md): request backends (tasks), event sinks, dashboard panels.
BACKENDS_GROUP = "genai_bench.backends"
SINKS_GROUP = "genai_bench.sinks"
PANELS_GROUP = "genai_bench.panels"


@dataclass(frozen=True)
class Plugin:
    """One loaded entry point: its group, its name, the distribution that ships it, and the object it names."""

    group: str
    name: str
    distribution: str | None
    target: Any


def load_group(group: str, report: Callable[[str], None] = log.warning) -> list[Plugin]:
    """Load every entry point of a group; one that fails to import is reported in one line and skipped."""
    loaded = []
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            target = entry.load()
        except Exception as exc:  # a broken plugin must never stop a benchmark
            report(f"plugin {entry.name!r} ({group}) failed to load and is skipped: {type(exc).__name__}: {exc}")
            continue
        distribution = entry.dist.name if entry.dist is not None else None
        loaded.append(Plugin(group, entry.name, distribution, target))
    return loaded


@dataclass(frozen=True)
class Panel:
    """A live-page panel a plugin ships: its card's title, the event types it draws, and its JavaScript file (the
    file's folder is served at /plugins/<entry point name>/, so the script may load its own assets beside it)."""

    title: str
    events: tuple[str, ...]
    script: Path

    @classmethod
    def of(cls, target: Any) -> Panel:
        """A Panel from an entry point's object: a Panel, a dict of its fields, or a callable returning either;
        ValueError saying what is wrong otherwise."""
        if callable(target) and not isinstance(target, Panel):
            target = target()
        if isinstance(target, dict):
            try:
                target = cls(str(target["title"]), tuple(target["events"]), Path(target["script"]))
            except (KeyError, TypeError) as exc:
                raise ValueError(f"a panel needs title, events and script ({type(exc).__name__}: {exc})") from None
        if not isinstance(target, Panel):
            raise ValueError(f"not a genai_bench.plugins.Panel or dict ({type(target).__name__})")
        if not target.script.is_file():
            raise ValueError(f"its script {target.script} is not a file")
        if not all(isinstance(event, str) for event in target.events):
            raise ValueError("its events must be event type names")
        return target

    @property
    def folder(self) -> Path:
        """The folder served for this panel: its script's."""
        return self.script.parent
