"""The built-in tokenizer and user-supplied tokenizer.json files built here with the tokenizers library."""

import json

import pytest
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from genai_bench.tokenizer import CORPUS_PATH, TokenizerError, builtin_tokenizer, load_tokenizer


def build_tokenizer_json(path, vocab_size=1500):
    """A byte-level BPE trained on the bundled corpus, saved as a user's tokenizer.json would be."""
    backend = HFTokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train([str(CORPUS_PATH)], trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    path.parent.mkdir(parents=True, exist_ok=True)
    backend.save(str(path))
    return path


def test_builtin_tokenizer_round_trips_and_needs_no_download():
    tokenizer = load_tokenizer(None)
    text = "Four score and seven years ago our fathers brought forth"
    assert tokenizer is builtin_tokenizer()
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert 5 < tokenizer.count(text) < len(text)


def test_load_from_file_and_directory(tmp_path):
    path = build_tokenizer_json(tmp_path / "tok" / "tokenizer.json")
    from_file, from_dir = load_tokenizer(str(path)), load_tokenizer(str(path.parent))
    text = "It was the best of times"
    assert from_file.encode(text) == from_dir.encode(text)
    assert from_file.vocab_size == 1500 != builtin_tokenizer().vocab_size


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "missing.json", "does not exist"),
    (lambda p: p, "no tokenizer.json"),
    (lambda p: (p / "bad.json").write_text("{not json") and p / "bad.json", "not a valid tokenizer.json"),
])
def test_bad_tokenizer_paths_raise_one_line_errors(tmp_path, make, message):
    with pytest.raises(TokenizerError, match=message) as info:
        load_tokenizer(str(make(tmp_path)))
    assert "\n" not in str(info.value)


def test_benchmark_with_a_model_tokenizer(tmp_path, run_cli):
    path = build_tokenizer_json(tmp_path / "tok" / "tokenizer.json")
    result = run_cli("benchmark", "--model-tokenizer", str(path), "--traffic-scenario", "D(64,16)",
                     "--num-concurrency", "2", "--max-requests-per-run", "4", "--experiment-folder-name", "exp")
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "experiments" / "exp"
    assert json.loads((folder / "experiment_metadata.json").read_text())["server_model_tokenizer"] == str(path)
    run = json.loads(next(folder.glob("D64_16_*.json")).read_text())
    # The embedded simulator counts with the same tokenizer, so the server-reported counts are exact.
    assert {r["num_input_tokens"] for r in run["individual_request_metrics"]} == {64}
    assert {r["num_output_tokens"] for r in run["individual_request_metrics"]} == {16}
