"""What a remote worker receives from the master: the benchmark's WorkerSettings, and the small files they name.

A dataset file (up to TRAVEL_LIMIT) and a tokenizer.json given by path travel with the settings, so a worker needs
nothing but the package. What cannot travel is read by the worker itself, under the same name: a dataset folder
(Hugging Face save_to_disk) or hub id, a larger file, a dataset whose rows name images by relative path, and a
tokenizer given as a hub id (which the worker loads from the hub or its local cache).
"""

from __future__ import annotations

from pathlib import Path

# Files above this stay where they are: each worker reads them by path.
TRAVEL_LIMIT = 32 * 2**20
DATASET, TOKENIZER = "dataset", "tokenizer.json"


def pack(settings: dict) -> tuple[dict, dict[str, bytes], list[str]]:
    """The settings (worker.WorkerSettings as a dict), the files travelling with them, and one note per thing each
    worker must read itself."""
    files: dict[str, bytes] = {}
    notes: list[str] = []
    dataset = (settings["workload"] or {}).get("dataset")
    if dataset:
        path = Path(dataset["path"])
        if dataset.get("type") != "file" or not path.is_file():
            notes.append(f"the dataset {dataset['path']} is read by each worker (a folder or hub id does not travel)")
        elif dataset.get("image_column"):
            notes.append(f"the dataset {dataset['path']} is read by each worker at that path (its rows name images)")
        elif path.stat().st_size > TRAVEL_LIMIT:
            notes.append(f"the dataset {dataset['path']} is read by each worker at that path (over "
                         f"{TRAVEL_LIMIT // 2**20} MiB)")
        else:
            files[DATASET] = path.read_bytes()
    tokenizer = tokenizer_file(settings["model_tokenizer"])
    if tokenizer is not None:
        files[TOKENIZER] = tokenizer.read_bytes()
    elif settings["model_tokenizer"]:
        notes.append(f"the tokenizer {settings['model_tokenizer']} is loaded by each worker (hub or local cache)")
    return settings, files, notes


def tokenizer_file(spec: str | None) -> Path | None:
    """The tokenizer.json a --model-tokenizer names on this machine (a file, or a directory holding one), if any."""
    if not spec:
        return None
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / "tokenizer.json"
    return path if path.is_file() and path.stat().st_size <= TRAVEL_LIMIT else None


def unpack(settings: dict, files: dict[str, bytes], folder: Path) -> dict:
    """The worker's settings: the travelling files written into `folder`, the settings pointing at them."""
    settings = dict(settings)
    if DATASET in files and settings["workload"] and settings["workload"].get("dataset"):
        dataset = settings["workload"]["dataset"]
        target = folder / Path(dataset["path"]).name  # the same name: its suffix tells the file's format
        target.write_bytes(files[DATASET])
        settings["workload"] = {**settings["workload"], "dataset": {**dataset, "path": str(target)}}
    if TOKENIZER in files:
        target = folder / TOKENIZER
        target.write_bytes(files[TOKENIZER])
        settings["model_tokenizer"] = str(target)
    return settings
