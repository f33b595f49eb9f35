"""Datasets of real prompts read from real files of each format (written by the tests), and bad ones refused."""

import csv
import json

import pytest

from genai_bench.prompt_datasets import DatasetError, DatasetSpec, load_dataset

SHAREGPT = [
    {"id": "a", "conversations": [{"from": "human", "value": "What is a KV cache?"},
                                  {"from": "gpt", "value": "A store of attention keys and values."},
                                  {"from": "human", "value": "Why does it fill up?"},
                                  {"from": "gpt", "value": "Long prompts."}]},
    {"id": "b", "conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"}]},
    {"id": "c", "conversations": [{"from": "gpt", "value": "An answer with no question is skipped."}]},
]


def load(path, **fields):
    return load_dataset(DatasetSpec.from_cli(str(path), **fields))


def test_sharegpt_conversations_keep_their_turns_and_reference_answers(tmp_path):
    path = tmp_path / "sharegpt.json"
    path.write_text(json.dumps(SHAREGPT))
    dataset = load(path)
    assert [c.prompt for c in dataset.conversations] == ["What is a KV cache?", "Hi"]
    first, second = dataset.conversations
    assert first.reference_answer == "A store of attention keys and values."
    assert first.user_turns == ["What is a KV cache?", "Why does it fill up?"]
    assert second.reference_answer is None and second.turns[0].role == "system"
    assert dataset.describe()["rows"] == 2 and len(dataset.describe()["sha256"]) == 64


def test_json_lines_and_json_lists_of_objects_use_the_prompt_and_output_columns(tmp_path):
    rows = [{"question": "One?", "answer": "1"}, {"question": "Two?", "answer": "2"}, {"question": "", "answer": "x"}]
    lines = tmp_path / "rows.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    listed = tmp_path / "rows.json"
    listed.write_text(json.dumps({"data": rows}))
    for path in (lines, listed):
        dataset = load(path, prompt_column="question", output_column="answer")
        assert [(c.prompt, c.reference_answer) for c in dataset.conversations] == [("One?", "1"), ("Two?", "2")]


def test_openai_style_messages_are_conversations(tmp_path):
    path = tmp_path / "chats.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}))
    [conversation] = load(path).conversations
    assert (conversation.prompt, conversation.reference_answer) == ("Q", "A")


def test_csv_rows_and_plain_text_lines(tmp_path):
    table = tmp_path / "prompts.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows([["prompt", "lang"], ["Bonjour, ça va?", "fr"], ["Hello, how are you?", "en"]])
    assert [c.prompt for c in load(table).conversations] == ["Bonjour, ça va?", "Hello, how are you?"]
    text = tmp_path / "corpus.txt"
    text.write_text("First line.\n\nSecond line.\n")
    dataset = load(text)
    assert [c.prompt for c in dataset.conversations] == ["First line.", "Second line."]
    assert dataset.corpus_text() == "First line.\nSecond line."


def test_config_file_filters_rows_with_upstream_keys(tmp_path):
    table = tmp_path / "prompts.csv"
    table.write_text("prompt,lang\nBonjour,fr\nHello,en\nHallo,de\n")
    config = tmp_path / "dataset.json"
    config.write_text(json.dumps({"source": {"type": "file", "path": str(table), "file_format": "csv"},
                                  "prompt_column": "prompt", "filters": {"lang": ["en", "de"]}}))
    assert [c.prompt for c in load_dataset(DatasetSpec.from_config_file(config)).conversations] == ["Hello", "Hallo"]


def test_a_save_to_disk_folder_is_read_with_the_datasets_library(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "hf"
    datasets.Dataset.from_dict({"text": ["alpha prompt", "beta prompt"], "label": [0, 1]}).save_to_disk(str(folder))
    dataset = load(folder, prompt_column="text")
    assert [c.prompt for c in dataset.conversations] == ["alpha prompt", "beta prompt"]
    assert dataset.describe()["sha256"] is None


def test_a_hub_id_not_in_the_local_cache_is_one_clear_line(tmp_path, monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(DatasetError, match="nobody/not-cached-anywhere.*offline") as error:
        load("nobody/not-cached-anywhere")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("content, name, message", [
    (None, "missing.json", "no such file"),
    ("[]", "empty.json", "no usable rows"),
    ("", "empty.txt", "the file is empty"),
    ("{not json", "broken.json", "not valid JSON"),
    ('{"a": 1}\nnope\n', "broken.jsonl", "line 2 is not JSON"),
    ('[{"text": "hi"}]', "wrong-column.json", "no column 'prompt' in row 1 \\(columns: text\\)"),
    ('[1, 2]', "not-objects.json", "row 1 is not an object"),
])
def test_bad_datasets_are_one_line_errors(tmp_path, content, name, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(DatasetError, match=message) as error:
        load(path)
    assert "\n" not in str(error.value)
