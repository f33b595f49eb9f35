"""Which experiments a command reads: the folders it names, one experiment folder, or (like upstream's plot) a folder
of them; a folder that holds none is a one-line error."""

from __future__ import annotations

from pathlib import Path

from genai_bench.config import ConfigError
from genai_bench.results import Experiment, ExperimentNotFound, load_experiment


def load_experiments(folder: str, option: str) -> list[Experiment]:
    """The experiment in `folder`, or every experiment in its subfolders; a one-line error naming `option` if none."""
    path = Path(folder)
    if not path.is_dir():
        raise ConfigError(f"{option} {folder}: not a directory")
    try:
        return [load_experiment(path)]
    except ExperimentNotFound:
        pass
    found = []
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        try:
            found.append(load_experiment(child))
        except ExperimentNotFound:
            continue
    if not found:
        raise ConfigError(f"{option} {folder}: holds no genai-bench experiment (experiment_metadata.json or run files)")
    return found


def load_folders(folders: tuple[str, ...] | list[str]) -> list[Experiment]:
    """Experiment folders named by --experiment-folder, each checked, or a one-line error naming the bad one."""
    loaded = []
    for folder in folders:
        try:
            loaded.append(load_experiment(Path(folder)))
        except ExperimentNotFound as exc:
            raise ConfigError(f"--experiment-folder {folder}: {exc}") from None
    return loaded
