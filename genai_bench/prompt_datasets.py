"""Datasets of real prompts: ShareGPT, JSON (lines or list), CSV, plain text, and Hugging Face datasets.

A dataset becomes a list of conversations (user/assistant turns). A single-prompt row is a one-turn conversation,
with the reference answer as its assistant turn when the dataset has one. The `datasets` library is needed only for
Hugging Face datasets (the `datasets` extra), and it is used offline: a hub id must already be in the local cache.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

USER, ASSISTANT, SYSTEM = "user", "assistant", "system"
# ShareGPT's and OpenAI's speaker names, mapped onto chat roles.
ROLES = {"human": USER, "user": USER, "gpt": ASSISTANT, "assistant": ASSISTANT, "chatgpt": ASSISTANT,
         "bard": ASSISTANT, "bing": ASSISTANT, "model": ASSISTANT, "system": SYSTEM}
FILE_FORMATS = ("json", "jsonl", "csv", "txt")
SOURCE_TYPES = ("file", "huggingface")
EXTRA_HINT = "pip install 'genai-bench[datasets]'"


class DatasetError(ValueError):
    """A dataset that cannot be used; the message is one line naming the file and what to change."""


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: str  # user, assistant or system
    text: str


@dataclass(frozen=True)
class Conversation:
    """A dataset row: its turns in order (a single prompt is one user turn, maybe with a reference answer)."""

    turns: tuple[Turn, ...]
    image: Any = field(default=None, compare=False)  # --dataset-image-column: a path, bytes or a picture

    @property
    def prompt(self) -> str:
        """The first user message."""
        return next(turn.text for turn in self.turns if turn.role == USER)

    @property
    def reference_answer(self) -> str | None:
        """The assistant's answer to the first user message, when the dataset has one."""
        seen_user = False
        for turn in self.turns:
            if turn.role == USER:
                if seen_user:
                    return None
                seen_user = True
            elif turn.role == ASSISTANT and seen_user:
                return turn.text
        return None

    @property
    def user_turns(self) -> list[str]:
        """Every user message, in order (what a multi-turn session sends)."""
        return [turn.text for turn in self.turns if turn.role == USER]


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset is and how to read it: from the CLI options or a --dataset-config JSON file (upstream's keys)."""

    path: str
    type: str = "file"  # file or huggingface
    file_format: str | None = None  # json, jsonl, csv, txt; None: from the file's suffix
    prompt_column: str = "prompt"
    output_column: str | None = None
    huggingface_kwargs: dict = field(default_factory=dict)
    filters: dict = field(default_factory=dict)  # column -> required value (or list of allowed values)
    image_column: str | None = None  # image-text-to-text: each row's image (a path, bytes or a picture)

    @classmethod
    def from_cli(cls, path: str, prompt_column: str = "prompt", output_column: str | None = None,
                 image_column: str | None = None) -> DatasetSpec:
        """A spec from --dataset-path: a file or save_to_disk folder when it exists, else a Hugging Face hub id."""
        source_type = "huggingface" if not Path(path).exists() and _looks_like_hub_id(path) else "file"
        return cls(path, source_type, prompt_column=prompt_column, output_column=output_column,
                   image_column=image_column).checked()

    @classmethod
    def from_config_file(cls, config_path: str | Path) -> DatasetSpec:
        """A spec from a --dataset-config JSON file: {"source": {"type", "path", "file_format", "huggingface_kwargs"},
        "prompt_column", "output_column", "filters"}."""
        config = _read_json_file(Path(config_path), "--dataset-config")
        source = config.get("source") if isinstance(config, dict) else None
        if not isinstance(source, dict) or not source.get("path"):
            raise DatasetError(f"--dataset-config {config_path}: needs {{\"source\": {{\"type\": \"file\", "
                               f"\"path\": ...}}}}")
        known = {"source", "prompt_column", "output_column", "filters", "image_column"}
        if unknown := sorted(set(config) - known):
            raise DatasetError(f"--dataset-config {config_path}: unknown key(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(known))}")
        return cls(str(source["path"]), source.get("type", "file"), source.get("file_format"),
                   config.get("prompt_column", "prompt"), config.get("output_column"),
                   dict(source.get("huggingface_kwargs") or {}), dict(config.get("filters") or {}),
                   config.get("image_column")).checked()

    def checked(self) -> DatasetSpec:
        """Self, or a DatasetError naming the first bad setting."""
        if self.type not in SOURCE_TYPES:
            raise DatasetError(f"dataset source type {self.type!r} is unknown; use one of: {', '.join(SOURCE_TYPES)}")
        if self.file_format is not None and self.file_format not in FILE_FORMATS:
            raise DatasetError(f"dataset file_format {self.file_format!r} is unknown; use one of: {', '.join(FILE_FORMATS)}")
        return self


@dataclass
class Dataset:
    """A loaded dataset: its conversations and what identifies it in the experiment metadata."""

    name: str
    source: str
    conversations: list[Conversation]
    sha256: str | None = None  # of the file (None for folders and hub datasets)

    def describe(self) -> dict:
        """What the experiment metadata records about the dataset."""
        return {"name": self.name, "source": self.source, "rows": len(self.conversations), "sha256": self.sha256}

    def corpus_text(self) -> str:
        """Every message's text, one paragraph each, for prompts cut to a scenario's token count."""
        return "\n".join(turn.text.replace("\n", " ") for c in self.conversations for turn in c.turns if turn.text.strip())


def load_dataset(spec: DatasetSpec) -> Dataset:
    """Read the dataset a spec names; raises DatasetError with one line when it cannot be used."""
    if spec.type == "huggingface" or Path(spec.path).is_dir():
        records, sha = _huggingface_records(spec), None
        fmt = "huggingface"
    else:
        path = Path(spec.path)
        if not path.is_file():
            raise DatasetError(f"--dataset-path {spec.path}: no such file")
        fmt = spec.file_format or _format_of(path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if fmt == "txt":
            return _text_dataset(path, sha)
        records = _file_records(path, fmt)
    conversations = [c for c in (_conversation(record, spec, i) for i, record in enumerate(_filtered(records, spec)))
                     if c is not None]
    if not conversations:
        raise DatasetError(f"--dataset-path {spec.path}: no usable rows ({fmt}; prompt column "
                           f"{spec.prompt_column!r}{', filters ' + json.dumps(spec.filters) if spec.filters else ''})")
    return Dataset(Path(spec.path).name or spec.path, spec.path, conversations, sha)


def _looks_like_hub_id(text: str) -> bool:
    """"owner/name" or "name": no path prefix and no file suffix."""
    return (re.fullmatch(r"[\w.-]+(/[\w.-]+)?", text) is not None and not text.startswith(".")
            and Path(text).suffix.lower().lstrip(".") not in (*FILE_FORMATS, "ndjson"))


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"jsonl": "jsonl", "ndjson": "jsonl", "json": "json", "csv": "csv"}.get(suffix, "txt")


def _text_dataset(path: Path, sha: str) -> Dataset:
    """A plain text file: each non-empty line is a prompt (and all of it a corpus)."""
    lines = [line.strip() for line in _read_text(path).splitlines() if line.strip()]
    if not lines:
        raise DatasetError(f"--dataset-path {path}: the file is empty")
    return Dataset(path.name, str(path), [Conversation((Turn(USER, line),)) for line in lines], sha)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"--dataset-path {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_json_file(path: Path, option: str) -> Any:
    if not path.is_file():
        raise DatasetError(f"{option} {path}: no such file")
    try:
        return json.loads(_read_text(path))
    except ValueError as exc:
        raise DatasetError(f"{option} {path}: not valid JSON ({exc})") from None


def _file_records(path: Path, fmt: str) -> list:
    """The rows of a JSON, JSON-lines or CSV file."""
    if fmt == "json":
        data = _read_json_file(path, "--dataset-path")
        if isinstance(data, dict):  # {"data": [...]} and similar single-key wrappers
            lists = [value for value in data.values() if isinstance(value, list)]
            data = lists[0] if len(lists) == 1 else None
        if not isinstance(data, list):
            raise DatasetError(f"--dataset-path {path}: expected a JSON list of objects (or ShareGPT conversations)")
        return data
    if fmt == "jsonl":
        records = []
        for number, line in enumerate(_read_text(path).splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as exc:
                    raise DatasetError(f"--dataset-path {path}: line {number} is not JSON ({exc})") from None
        return records
    with open(path, newline="", encoding="utf-8") as handle:
        try:
            return list(csv.DictReader(handle))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DatasetError(f"--dataset-path {path}: not a readable CSV file ({exc})") from None


def _huggingface_records(spec: DatasetSpec) -> Iterable:
    """Rows of a `save_to_disk` folder or of a hub dataset already in the local cache (never downloaded)."""
    # A benchmark host must never wait on the hub: offline before the first import, and again in case `datasets`
    # was imported earlier (it reads these settings once, at import).
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import datasets
        import huggingface_hub.constants
    except ImportError:
        raise DatasetError(f"--dataset-path {spec.path}: Hugging Face datasets need the 'datasets' extra: "
                           f"{EXTRA_HINT}") from None
    datasets.config.HF_HUB_OFFLINE = datasets.config.HF_DATASETS_OFFLINE = True
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    kwargs = dict(spec.huggingface_kwargs)
    try:
        if Path(spec.path).is_dir():
            loaded = datasets.load_from_disk(spec.path)
        else:
            loaded = datasets.load_dataset(spec.path, **kwargs)
    except FileNotFoundError as exc:
        raise DatasetError(f"--dataset-path {spec.path}: not a dataset folder, and not in the local Hugging Face "
                           f"cache (downloads are off; fetch it with `datasets` where there is network, or pass "
                           f"a file) ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    except Exception as exc:  # the hub client raises many kinds when a dataset is not cached offline
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise DatasetError(f"--dataset-path {spec.path}: cannot load it offline ({first_line})") from None
    if isinstance(loaded, datasets.DatasetDict):
        split = kwargs.get("split") or ("train" if "train" in loaded else next(iter(loaded)))
        loaded = loaded[split]
    return loaded


def _filtered(records: Iterable, spec: DatasetSpec) -> Iterable:
    for record in records:
        if all(_matches(record, column, wanted) for column, wanted in spec.filters.items()):
            yield record


def _matches(record: Any, column: str, wanted: Any) -> bool:
    if not isinstance(record, dict):
        return False
    value = record.get(column)
    return value in wanted if isinstance(wanted, list) else value == wanted


def _conversation(record: Any, spec: DatasetSpec, index: int) -> Conversation | None:
    """One row as a conversation; None for rows with nothing to send (empty prompts)."""
    if not isinstance(record, dict):
        raise DatasetError(f"--dataset-path {spec.path}: row {index + 1} is not an object")
    messages = record.get("conversations") if "conversations" in record else record.get("messages")
    if isinstance(messages, list):
        turns = tuple(t for t in (_turn(m) for m in messages) if t is not None)
        return Conversation(turns) if any(t.role == USER for t in turns) else None
    if spec.prompt_column not in record:
        columns = ", ".join(sorted(map(str, record))) or "none"
        raise DatasetError(f"--dataset-path {spec.path}: no column {spec.prompt_column!r} in row {index + 1} "
                           f"(columns: {columns}); pick one with --dataset-prompt-column")
    prompt = record[spec.prompt_column]
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    turns = [Turn(USER, prompt)]
    if spec.output_column:
        answer = record.get(spec.output_column)
        if answer is None and index == 0 and spec.output_column not in record:
            raise DatasetError(f"--dataset-path {spec.path}: no column {spec.output_column!r} "
                               f"(--dataset-output-column)")
        if isinstance(answer, str) and answer:
            turns.append(Turn(ASSISTANT, answer))
    if spec.image_column and index == 0 and spec.image_column not in record:
        raise DatasetError(f"--dataset-path {spec.path}: no column {spec.image_column!r} (--dataset-image-column)")
    return Conversation(tuple(turns), record.get(spec.image_column) if spec.image_column else None)


def _turn(message: Any) -> Turn | None:
    """A ShareGPT ({"from", "value"}) or OpenAI ({"role", "content"}) message; None for unknown speakers."""
    if not isinstance(message, dict):
        return None
    speaker = message.get("from", message.get("role"))
    text = message.get("value", message.get("content"))
    role = ROLES.get(str(speaker).lower())
    if role is None or not isinstance(text, str):
        return None
    return Turn(role, text)
