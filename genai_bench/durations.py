"""Durations as people write them (500ms, 10s, 90m, 12h, 7d): one table of units for every option that takes one."""

from __future__ import annotations

# Seconds in one of each unit; "" is a bare number of seconds. Each option's grammar says which units it accepts.
SECONDS_PER_UNIT = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def to_seconds(number: float, unit: str) -> float:
    """`number` of `unit` (any case) in seconds."""
    return number * SECONDS_PER_UNIT[unit.lower()]
