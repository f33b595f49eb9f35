"""`genai-bench plugins`: what each plugin group holds on this machine, and the plugins that failed to load."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

import click

from genai_bench.notifiers import NOTIFIER_GROUP as NOTIFIERS_GROUP
from genai_bench.plugins import BACKENDS_GROUP, PANELS_GROUP, SINKS_GROUP, load_group

GROUPS = {BACKENDS_GROUP: "request backends (--task NAME)", SINKS_GROUP: "event sinks (every event of a benchmark)",
          PANELS_GROUP: "live-page panels", NOTIFIERS_GROUP: "alert notifiers"}


def distribution_of(group: str, name: str) -> str:
    """The distribution whose metadata declares entry point `name` of `group` ("built-in" when none does)."""
    for entry in entry_points(group=group, name=name):
        if entry.dist is not None:
            return entry.dist.name
    return "built-in"


def installed(report: Callable[[str], None]) -> dict[str, list[tuple[str, str, str]]]:
    """Per group, each loadable plugin as (name, distribution, what it adds); failures go to `report`, one line each."""
    from genai_bench.tasks import BUILTIN_TASKS, plugin_tasks
    from genai_bench.web.panels import installed_panels

    tasks = {**BUILTIN_TASKS, **plugin_tasks(BUILTIN_TASKS, report)}
    found = {BACKENDS_GROUP: [(name, distribution_of(BACKENDS_GROUP, name),
                               f"scenarios {spec.scenario_forms}, e.g. {spec.default_scenario}")
                              for name, spec in tasks.items()],
             PANELS_GROUP: [(name, distribution_of(PANELS_GROUP, name), f"{panel.title!r} draws {', '.join(panel.events)}")
                            for name, panel in installed_panels(report).items()]}
    for group in (SINKS_GROUP, NOTIFIERS_GROUP):
        found[group] = [(p.name, p.distribution or "built-in", getattr(p.target, "__qualname__", type(p.target).__name__))
                        for p in load_group(group, report)]
    return found


@click.command()
def plugins() -> None:
    """List the installed plugins (request backends, event sinks, panels, notifiers); broken ones are named."""
    problems: list[str] = []
    groups = installed(problems.append)
    for group, description in GROUPS.items():
        click.echo(f"{group}: {description}")
        for name, distribution, what in groups[group]:
            click.echo(f"  {name:<24} {distribution:<28} {what}")
        if not groups[group]:
            click.echo("  (none installed)")
    for problem in problems:
        click.echo(f"Warning: {problem}", err=True)
