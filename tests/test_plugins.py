"""Plugin groups (plugins.py, tasks.TaskRegistry): entry points found through importlib.metadata on sys.path, the
built-ins always there, and every broken plugin reported in one line and skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_bench.plugins import BACKENDS_GROUP, PANELS_GROUP, Panel, load_group
from genai_bench.tasks import BUILTIN_TASKS, TEXT_TO_TEXT, TaskRegistry, plugin_tasks
from tests.support.plugins import write_distribution

TASK_MODULE = '''
from genai_bench.client import OpenAIStreamingClient
from genai_bench.tasks import TaskSpec

GOOD = TaskSpec("good-task", ("D",), "D", "D(10,10)", False, OpenAIStreamingClient)
MISNAMED = TaskSpec("other-name", ("D",), "D", "D(10,10)", False, OpenAIStreamingClient)
IMPOSTOR = TaskSpec("text-to-text", ("D",), "D", "D(10,10)", False, OpenAIStreamingClient)
NOT_A_TASK = object()


def build():
    return TaskSpec("built-task", ("D",), "D", "D(10,10)", False, OpenAIStreamingClient)
'''


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Install a test distribution on sys.path: installed(entry_points, modules)."""

    def install(entry_points: dict, modules: dict, name: str = "test-plugins") -> Path:
        folder = write_distribution(tmp_path / name, name, entry_points, modules)
        monkeypatch.syspath_prepend(str(folder))
        return folder

    return install


def test_a_plugin_that_fails_to_import_is_reported_in_one_line_and_skipped(installed):
    installed({"genai_bench.test_group": {"broken": "broken_mod:THING", "fine": "fine_mod:THING"}},
              {"broken_mod": "raise RuntimeError('boom at import')\n", "fine_mod": "THING = 42\n"})
    reports: list[str] = []
    loaded = load_group("genai_bench.test_group", reports.append)
    assert [(p.name, p.target, p.distribution) for p in loaded] == [("fine", 42, "test-plugins")]
    assert len(reports) == 1 and "\n" not in reports[0]
    assert "'broken'" in reports[0] and "RuntimeError: boom at import" in reports[0] and "skipped" in reports[0]


def test_backend_plugins_add_tasks_and_bad_ones_are_skipped(installed):
    installed({BACKENDS_GROUP: {"good-task": "tasks_mod:GOOD", "built-task": "tasks_mod:build",
                                "misnamed": "tasks_mod:MISNAMED", "text-to-text": "tasks_mod:IMPOSTOR",
                                "not-a-task": "tasks_mod:NOT_A_TASK"}}, {"tasks_mod": TASK_MODULE})
    reports: list[str] = []
    found = plugin_tasks(BUILTIN_TASKS, reports.append)
    # Installed, genai-bench's own metadata also declares the built-ins in the group: they load as themselves.
    assert sorted(name for name in found if name not in BUILTIN_TASKS) == ["built-task", "good-task"]
    assert all(found[name] is BUILTIN_TASKS[name] for name in found if name in BUILTIN_TASKS)
    assert len(reports) == 3 and all("\n" not in line and "skipped" in line for line in reports)
    assert any("'misnamed'" in line and "other-name" in line for line in reports)
    assert any("'text-to-text'" in line and "built-in" in line for line in reports)
    assert any("'not-a-task'" in line and "TaskSpec" in line for line in reports)


def test_the_registry_keeps_the_builtins_and_loads_plugins_only_when_asked_beyond_them(installed):
    registry = TaskRegistry(BUILTIN_TASKS)
    assert registry[TEXT_TO_TEXT] is BUILTIN_TASKS[TEXT_TO_TEXT] and registry._all is None  # no plugin imported
    installed({BACKENDS_GROUP: {"good-task": "tasks_mod:GOOD"}}, {"tasks_mod": TASK_MODULE})
    assert registry["good-task"].name == "good-task"
    assert list(registry)[:len(BUILTIN_TASKS)] == list(BUILTIN_TASKS)
    assert registry.get("no-such-task") is None


def test_the_builtins_are_declared_as_backend_entry_points():
    # setup.cfg names them in the genai_bench.backends group: each target is the built-in TaskSpec itself.
    setup = (Path(__file__).resolve().parents[1] / "setup.cfg").read_text()
    block = setup.split("genai_bench.backends =", 1)[1].split("\n\n", 1)[0]
    declared = dict(line.strip().split(" = ") for line in block.strip().splitlines() if " = " in line)
    assert set(declared) == set(BUILTIN_TASKS)
    import genai_bench.tasks as tasks
    for name, target in declared.items():
        module, attribute = target.split(":")
        assert module == "genai_bench.tasks" and getattr(tasks, attribute) is BUILTIN_TASKS[name]


def test_a_panel_is_checked_when_loaded(tmp_path):
    script = tmp_path / "panel.js"
    script.write_text("// a panel\n")
    assert Panel.of({"title": "T", "events": ["metrics"], "script": str(script)}) == Panel("T", ("metrics",), script)
    assert Panel.of(lambda: Panel("T", ("metrics",), script)).folder == tmp_path
    with pytest.raises(ValueError, match="not a file"):
        Panel.of(Panel("T", ("metrics",), tmp_path / "missing.js"))
    with pytest.raises(ValueError, match="needs title, events and script"):
        Panel.of({"title": "T"})
    with pytest.raises(ValueError, match="not a genai_bench.plugins.Panel"):
        Panel.of(42)


def test_installed_panels_skip_the_malformed_ones(installed, tmp_path):
    from genai_bench.web.panels import installed_panels

    (tmp_path / "ok.js").write_text("// ok\n")
    installed({PANELS_GROUP: {"ok-panel": "panels_mod:OK", "no-script": "panels_mod:MISSING",
                              "bad name!": "panels_mod:OK"}},
              {"panels_mod": f"OK = {{'title': 'Ok', 'events': ['metrics'], 'script': {str(tmp_path / 'ok.js')!r}}}\n"
                             "MISSING = {'title': 'No', 'events': [], 'script': '/nonexistent/x.js'}\n"})
    reports: list[str] = []
    panels = installed_panels(reports.append)
    assert list(panels) == ["ok-panel"] and panels["ok-panel"].events == ("metrics",)
    assert len(reports) == 2 and all("skipped" in line for line in reports)


def test_the_builtins_own_entry_points_load_silently(installed):
    # Installed, genai-bench's metadata declares the built-ins in the group: they load as themselves, no warning.
    installed({BACKENDS_GROUP: {name: f"genai_bench.tasks:{attr}" for name, attr in (
        ("text-to-text", "TEXT_TASK"), ("text-to-rerank", "RERANK_TASK"))}}, {}, name="genai-bench-metadata")
    reports: list[str] = []
    found = plugin_tasks(BUILTIN_TASKS, reports.append)
    assert reports == [] and {"text-to-text", "text-to-rerank"} <= set(found)
    assert all(found[name] is BUILTIN_TASKS[name] for name in found)  # (all four when genai-bench is installed)
