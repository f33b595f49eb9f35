"""Extensions found through Python entry points: each group names what a plugin may add to genai-bench."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)


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
