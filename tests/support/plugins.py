"""Plugins for tests, installed the way pip leaves one: a module and a *.dist-info folder whose entry_points.txt
names it, in a folder put on sys.path (in process) or PYTHONPATH (children); importlib.metadata finds them there."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.processes import REPO_ROOT

EXAMPLE_PLUGIN = REPO_ROOT / "examples" / "plugin"


def write_distribution(folder: Path, name: str, entry_points: dict[str, dict[str, str]],
                       modules: dict[str, str]) -> Path:
    """A distribution `name` in `folder`: its modules (name -> source) and its entry points (group -> name -> target)."""
    folder.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (folder / f"{module}.py").write_text(source)
    info = folder / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{key} = {target}\n" for key, target in entries.items()) + "\n"
        for group, entries in entry_points.items()))
    return folder


def install_example_plugin(target: Path, scratch: Path) -> Path:
    """pip-install examples/plugin into `target` (no network: no dependencies, no build isolation), building from a
    copy so that the checkout gets no build/ or egg-info folder."""
    source = scratch / "example-plugin-source"
    shutil.copytree(EXAMPLE_PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, capture_output=True, text=True,
                   timeout=300)
    return target
