"""Datasets and shared prefixes end to end: real files written here, `genai-bench benchmark` run against a simulator,
and what the simulator received checked at its side (prompts, token counts, output limits)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from genai_bench.cli import main
from genai_bench.config import BenchmarkConfig, ConfigError
from genai_bench.prompt_datasets import DatasetSpec, load_dataset
from genai_bench.scenarios import parse_scenario
from genai_bench.tokenizer import builtin_tokenizer
from genai_bench.workload import PREFIX_SEPARATOR, Workload, WorkloadSpec

WORDS = ("the quick brown fox jumps over a lazy dog while seven wizards quietly box "
         "jovial frogs near the river bank at dawn").split()


def sentence(seed: int, words: int) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(WORDS[i] for i in rng.integers(len(WORDS), size=words)).capitalize() + "."


def write_sharegpt(path, rows: int = 6, unanswered: int = 1):
    """ShareGPT rows with a human prompt and (but for the last `unanswered`) a gpt answer."""
    data = []
    for i in range(rows):
        turns = [{"from": "human", "value": f"Question {i}: {sentence(i, 20 + 7 * i)}"}]
        if i < rows - unanswered:
            turns.append({"from": "gpt", "value": sentence(100 + i, 5 + 3 * i)})
        data.append({"id": str(i), "conversations": turns})
    path.write_text(json.dumps(data))
    return data


def benchmark(tmp_path, server, *args, requests: int = 12):
    """`genai-bench benchmark` in this process against `server`; the CLI result and the experiment folder."""
    result = CliRunner().invoke(main, [
        "benchmark", "--api-base", server.url, "--num-concurrency", "1", "--max-requests-per-run", str(requests),
        "--experiment-base-dir", str(tmp_path), "--experiment-folder-name", "exp", *args])
    assert result.exit_code == 0, result.output
    return result, tmp_path / "exp"


def received_prompts(server) -> list[str]:
    return [body["messages"][0]["content"] for body in server.app.received]


def test_dataset_prompts_are_sent_as_they_are_with_their_reference_answer_as_the_limit(tmp_path, fast_simulator):
    data = write_sharegpt(tmp_path / "sharegpt.json", rows=4, unanswered=2)
    _, folder = benchmark(tmp_path, fast_simulator, "--dataset-path", str(tmp_path / "sharegpt.json"),
                          "--traffic-scenario", "dataset", "--seed", "1")
    tokenizer = builtin_tokenizer()
    rows = {row["conversations"][0]["value"]: row["conversations"][1:] for row in data}
    bodies = list(fast_simulator.app.received)
    assert len(bodies) == 12 and len({b["messages"][0]["content"] for b in bodies}) > 2
    for body in bodies:
        answer = rows[body["messages"][0]["content"]]  # every prompt is a dataset prompt, unchanged
        if answer:
            assert body["max_tokens"] == tokenizer.count(answer[0]["value"])
        else:  # no reference answer: no limit sent, the server's default length answers
            assert "max_tokens" not in body and "ignore_eos" not in body
    [run_file] = folder.glob("dataset_text-to-text_*.json")
    records = json.loads(run_file.read_text())["individual_request_metrics"]
    assert sorted(r["num_input_tokens"] for r in records) == sorted(
        tokenizer.count(b["messages"][0]["content"]) for b in bodies)
    unlimited = [r for r in records if r["max_output_tokens"] is None]
    assert unlimited and all(r["num_output_tokens"] == fast_simulator.app.config.default_max_tokens for r in unlimited)
    workload = json.loads((folder / "experiment_metadata.json").read_text())["workload"]
    assert workload["dataset"] | {"sha256": None} == {
        "name": "sharegpt.json", "source": str(tmp_path / "sharegpt.json"), "rows": 4, "sha256": None,
        "prompt_column": "prompt", "output_column": None}
    assert len(workload["dataset"]["sha256"]) == 64 and workload["prefix"] is None


def test_scenario_prompts_from_a_dataset_are_token_exact_and_cut_from_its_text(tmp_path, fast_simulator):
    rows = [sentence(i, 40) for i in range(5)]
    (tmp_path / "rows.csv").write_text("text,lang\n" + "".join(f'"{row}",en\n' for row in rows))
    benchmark(tmp_path, fast_simulator, "--dataset-path", str(tmp_path / "rows.csv"), "--dataset-prompt-column",
              "text", "--traffic-scenario", "D(30,4)", "--seed", "2", requests=6)
    tokenizer = builtin_tokenizer()
    text = "".join(row + "\n" for row in rows) * 2  # the dataset's text, endlessly repeated
    for prompt in received_prompts(fast_simulator):
        assert tokenizer.count(prompt) == 30 and prompt in text


def test_prefix_groups_share_prefixes_in_turn_and_keep_the_scenario_exact(tmp_path, fast_simulator):
    _, folder = benchmark(tmp_path, fast_simulator, "--traffic-scenario", "D(60,3)", "--prefix-len", "20",
                          "--prefix-groups", "3", "--seed", "4", requests=9)
    tokenizer = builtin_tokenizer()
    prompts = received_prompts(fast_simulator)
    # The seed's prefixes, as any process of the benchmark builds them.
    heads = [p.head for p in Workload(tokenizer, WorkloadSpec(prefix_len=20, prefix_groups=3, prefix_seed=4)).prefixes(20)]
    assert len(set(heads)) == 3 and all(tokenizer.count(head) == 20 + tokenizer.count(PREFIX_SEPARATOR) for head in heads)
    assert all(tokenizer.count(p) == 60 for p in prompts)
    assert [p.startswith(heads[i % 3]) for i, p in enumerate(prompts)] == [True] * 9  # in turn
    assert len({p[len(heads[0]):] for p in prompts}) == 9  # the rest differs each time
    workload = json.loads((folder / "experiment_metadata.json").read_text())["workload"]
    assert workload == {"dataset": None, "prefix": {"tokens": 20, "ratio": None, "groups": 3}, "trace": None,
                        "images": None, "multi_turn": None}


def test_a_prefix_before_dataset_prompts_adds_its_tokens(tmp_path, fast_simulator):
    data = write_sharegpt(tmp_path / "sharegpt.json", unanswered=0)
    benchmark(tmp_path, fast_simulator, "--dataset-path", str(tmp_path / "sharegpt.json"), "--traffic-scenario",
              "dataset", "--prefix-len", "16", "--prefix-groups", "2", "--seed", "5", requests=6)
    originals = {row["conversations"][0]["value"] for row in data}
    heads = set()
    for prompt in received_prompts(fast_simulator):
        head, _, rest = prompt.rpartition(PREFIX_SEPARATOR)
        assert rest in originals and builtin_tokenizer().count(head) == 16
        heads.add(head)
    assert len(heads) == 2


def test_the_same_seed_sends_the_same_prompts_in_the_same_order(tmp_path, start_simulator):
    (tmp_path / "prompts.txt").write_text("\n".join(sentence(i, 12) for i in range(40)))
    sent = []
    for seed in ("7", "7", "8"):
        server = start_simulator(ttft_ms=1.0, itl_ms=0.0)
        benchmark(tmp_path / seed / str(len(sent)), server, "--dataset-path", str(tmp_path / "prompts.txt"),
                  "--traffic-scenario", "dataset", "--traffic-scenario", "U(10,40)/(1,3)", "--prefix-len", "8",
                  "--prefix-groups", "2", "--seed", seed, requests=10)
        sent.append(received_prompts(server))
    assert len(sent[0]) == 20 and sent[0] == sent[1]
    assert sent[0] != sent[2]


def test_short_draws_get_the_prefix_clipped_and_ratio_prefixes_follow_the_mean():
    tokenizer = builtin_tokenizer()
    workload = Workload(tokenizer, WorkloadSpec(prefix_len=30, prefix_groups=1, prefix_seed=3))
    [prefix] = workload.prefixes(30)
    rng = np.random.default_rng(0)
    for index in range(30):
        request = workload.sample(parse_scenario("U(5,60)/(1,2)"), rng, index)
        assert tokenizer.count(request.prompt) == request.num_input_tokens
        if request.num_input_tokens <= 30:
            assert prefix.text.startswith(request.prompt)
        else:
            assert request.prompt.startswith(prefix.text)
    ratio = Workload(tokenizer, WorkloadSpec(prefix_ratio=0.25, prefix_seed=3))
    request = ratio.sample(parse_scenario("D(80,2)"), rng)
    assert request.prompt.startswith(ratio.prefixes(20)[0].text) and tokenizer.count(request.prompt) == 80


def test_dataset_rows_are_counted_once_however_often_they_are_sent(tmp_path):
    write_sharegpt(tmp_path / "sharegpt.json", rows=3, unanswered=0)
    calls = []
    tokenizer = builtin_tokenizer()

    class Counting:
        def count_batch(self, texts):
            calls.extend(texts)
            return tokenizer.count_batch(texts)

    dataset = load_dataset(DatasetSpec.from_cli(str(tmp_path / "sharegpt.json")))
    for prepared in (False, True):
        calls.clear()
        workload = Workload(Counting(), WorkloadSpec(), dataset)
        if prepared:  # before the sweep: every row at once
            workload.prepare([parse_scenario("dataset")])
            assert len(calls) == 6
        rng = np.random.default_rng(1)
        requests = [workload.sample(parse_scenario("dataset"), rng) for _ in range(50)]
        assert len(calls) == 6  # each row's prompt and answer, once
        assert all(r.num_input_tokens == tokenizer.count(r.prompt) for r in requests)


@pytest.mark.parametrize("settings, message", [
    (dict(traffic_scenarios=["dataset"]), "--traffic-scenario dataset needs a dataset"),
    (dict(prefix_len=10, prefix_ratio=0.5), "--prefix-len and --prefix-ratio exclude each other"),
    (dict(prefix_len=200), "--prefix-len 200 is longer than the 100-token input of --traffic-scenario D(100,100)"),
    (dict(prefix_ratio=1.0), "--prefix-ratio must be between 0 and 1"),
    (dict(prefix_len=0), "--prefix-len must be a positive number"),
    (dict(prefix_groups=0), "--prefix-groups must be from 1"),
    (dict(traffic_scenarios=["dataset"], prefix_ratio=0.5, dataset=DatasetSpec("x.txt")), "--prefix-ratio needs D, N or U"),
])
def test_bad_prefix_and_scenario_settings_are_one_line(settings, message):
    scenarios = [parse_scenario(s) for s in settings.pop("traffic_scenarios", ["D(100,100)"])]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        BenchmarkConfig(traffic_scenarios=scenarios, **settings).validate()


def test_prefixes_longer_than_some_draws_are_a_warning():
    config = BenchmarkConfig(traffic_scenarios=[parse_scenario("U(10,100)/(1,1)")], prefix_len=50).validate()
    assert config.warnings() == ["--traffic-scenario U(10,100)/(1,1) draws prompts shorter than the 50-token shared "
                                 "prefix; those prompts are the prefix's first tokens only"]


@pytest.mark.parametrize("content, name, extra, message", [
    (None, "missing.json", [], "--dataset-path {path}: no such file"),
    ('[{"text": "hi"}]', "rows.json", [], "no column 'prompt' in row 1 (columns: text); pick one with --dataset-prompt-column"),
    ("", "empty.txt", [], "--dataset-path {path}: the file is empty"),
    ("{not json", "broken.json", [], "--dataset-path {path}: not valid JSON"),
    ("prompt\nhi\n", "rows.csv", ["--dataset-config", "{path}"], "--dataset-path and --dataset-config both name"),
])
def test_bad_datasets_are_one_line_cli_errors(tmp_path, content, name, extra, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    args = [a.format(path=path) for a in extra]
    result = CliRunner().invoke(main, ["benchmark", "--dataset-path", str(path), "--traffic-scenario", "dataset",
                                       "--experiment-base-dir", str(tmp_path / "experiments"), *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert message.format(path=path) in result.stderr
    assert not (tmp_path / "experiments").exists()


def test_workers_load_the_dataset_themselves_and_share_the_prefixes(tmp_path, start_simulator, run_cli):
    data = write_sharegpt(tmp_path / "sharegpt.json", unanswered=0)
    server = start_simulator(ttft_ms=1.0, itl_ms=0.0)
    result = run_cli("benchmark", "--api-base", server.url, "--num-workers", "2", "--num-concurrency", "2",
                     "--max-requests-per-run", "12", "--dataset-path", str(tmp_path / "sharegpt.json"),
                     "--traffic-scenario", "dataset", "--prefix-len", "12", "--prefix-groups", "2", "--seed", "9")
    assert result.returncode == 0, result.stdout + result.stderr
    originals = {row["conversations"][0]["value"] for row in data}
    heads = {head for head, _, rest in (p.rpartition(PREFIX_SEPARATOR) for p in received_prompts(server))
             if rest in originals}
    assert len(server.app.received) == 12 and len(heads) == 2

