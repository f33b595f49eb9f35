"""Trace replay (--trace): reading Mooncake JSON-lines traces, prompts built from hash-id blocks, sending on the trace's
timestamps against a real simulator, and the one-line errors."""

import json
import logging
import os

import numpy as np
import pytest

from genai_bench.config import BenchmarkConfig, ConfigError
from genai_bench.options import parse_benchmark_args
from genai_bench.sampling import PromptSampler
from genai_bench.session import BenchmarkSession
from genai_bench.tokenizer import builtin_tokenizer
from genai_bench.trace import BLOCK_TOKENS, TracePrompts, TraceSchedule, load_trace


def write_trace(path, lines) -> str:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


def line(timestamp, input_length, hash_ids, output_length=4) -> dict:
    return {"timestamp": timestamp, "input_length": input_length, "output_length": output_length, "hash_ids": hash_ids}


def test_a_trace_is_read_with_timestamps_from_its_first_request(tmp_path):
    trace = load_trace(write_trace(tmp_path / "t.jsonl", [line(1000, 600, [1, 2]), "", line(1250, 100, [3])]))
    assert [(r.timestamp, r.input_length, r.hash_ids) for r in trace.requests] == [(0.0, 600, (1, 2)), (0.25, 100, (3,))]
    assert trace.describe()["requests"] == 2 and len(trace.describe()["sha256"]) == 64


def test_timestamps_out_of_order_are_sorted_with_a_warning(tmp_path, caplog):
    path = write_trace(tmp_path / "t.jsonl", [line(500, 10, [1]), line(0, 20, [2]), line(500, 30, [3])])
    with caplog.at_level(logging.WARNING):
        trace = load_trace(path)
    assert [r.input_length for r in trace.requests] == [20, 10, 30]  # stable: equal timestamps keep the file's order
    assert "not in order" in caplog.text


@pytest.mark.parametrize("lines, message", [
    (["{not json"], "line 1: not JSON"),
    ([line(0, 10, [1]), "[1, 2]"], "line 2: expected a JSON object"),
    ([{"timestamp": 0, "input_length": 10, "hash_ids": []}], "line 1: missing output_length"),
    ([line(0, 10, [1]), line(5, 0, [1])], "line 2: input_length must be a positive integer"),
    ([line(-1, 10, [1])], "line 1: timestamp must be a number of milliseconds"),
    ([line(0, 10, ["a"])], "line 1: hash_ids must be a list of non-negative integers"),
    ([line(0, 600, [1, 2]), line(1, 1024, [1, 2, 3])],
     "line 2: 3 hash_ids name 512-token blocks, more than the input_length of 1024 tokens holds"),
    ([], "no requests"),
])
def test_bad_traces_are_one_line_errors_naming_the_line(tmp_path, lines, message):
    path = write_trace(tmp_path / "bad.jsonl", lines)
    with pytest.raises(ConfigError) as error:
        load_trace(path)
    assert str(error.value).startswith(f"--trace {path}") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_missing_trace_is_a_one_line_error_before_anything_is_written(tmp_path):
    config = BenchmarkConfig(trace=str(tmp_path / "nope.jsonl"), experiment_base_dir=str(tmp_path / "exp"))
    with pytest.raises(ConfigError, match=r"^--trace .*nope\.jsonl: cannot read it \(No such file or directory\)$"):
        BenchmarkSession(config)
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize("args, message", [
    (["--trace", "t.jsonl", "--request-rate", "5"], "--trace sends each request at its timestamp; drop --request-rate"),
    (["--trace", "t.jsonl", "--num-workers", "2"], "--trace replays in one process; drop --num-workers"),
    (["--trace", "t.jsonl", "--turns", "2"], "--trace replays single requests"),
    (["--trace", "t.jsonl", "--prefix-len", "8"], "--trace shares prefixes through its hash_ids"),
    (["--trace", "t.jsonl", "--burstiness", "0.5"], "--burstiness shape a rate's arrivals; a --trace brings its own"),
    (["--trace-speed", "2"], "--trace-speed needs --trace"),
    (["--trace", "t.jsonl", "--trace-speed", "0"], "--trace-speed must be a positive number"),
])
def test_trace_option_conflicts_are_one_line_errors(args, message):
    with pytest.raises(ConfigError) as error:
        parse_benchmark_args(args)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_trace_is_the_sweeps_one_scenario_at_the_in_flight_cap():
    config = parse_benchmark_args(["--trace", "t.jsonl", "--max-concurrency", "16", "--num-concurrency", "1,2"])
    assert [s.text for s in config.traffic_scenarios] == ["trace"] and config.concurrencies == [16]


def test_prompts_are_token_exact_and_equal_hash_ids_give_equal_blocks(tmp_path):
    tokenizer = builtin_tokenizer()
    trace = load_trace(write_trace(tmp_path / "t.jsonl", [
        line(0, 1300, [7, 8, 9]), line(1, 1100, [7, 8, 10]), line(2, 512, [7]), line(3, 300, [7]),
        line(4, 1200, [11]), line(5, 40, [])]))
    prompts = TracePrompts(trace, PromptSampler(tokenizer), tokenizer, seed=3)
    texts = [prompts.request(i).prompt for i in range(len(trace.requests))]
    assert [tokenizer.count(t) for t in texts] == [1300, 1100, 512, 300, 1200, 40]
    block7, block8 = prompts.block(7)[0], prompts.block(8)[0]
    assert tokenizer.count(block7) == BLOCK_TOKENS and texts[2] == block7
    assert texts[0].startswith(block7 + block8) and texts[1].startswith(block7 + block8)
    assert texts[0][len(block7 + block8):] != texts[1][len(block7 + block8):]  # blocks 9 and 10 differ
    assert block7.startswith(texts[3])  # a partial block is its block's first tokens
    assert texts[4].startswith(prompts.block(11)[0]) and not texts[4].startswith(block7)
    # Built from (seed, hash id) alone: another builder with the same seed gives the same block.
    assert TracePrompts(trace, PromptSampler(tokenizer), tokenizer, seed=3).block(8)[0] == block8


def test_trace_speed_divides_the_gaps(tmp_path):
    trace = load_trace(write_trace(tmp_path / "t.jsonl", [line(ms, 10, [1]) for ms in (100, 300, 1100)]))
    schedule = TraceSchedule(trace, speed=2.0, first_time=5.0)
    assert [schedule.next_send_time() for _ in range(3)] == [5.0, 5.1, 5.5]


def test_a_trace_replays_on_time_with_its_prefix_blocks_reaching_the_server(tmp_path, start_simulator):
    # 50 light requests over about a second, against a fast simulator: each must leave within 2 ms of its trace time
    # at p99. Gaps of at least 5 ms keep the server's arrival order the trace's, for the checks of what it received.
    server = start_simulator(ttft_ms=2.0, itl_ms=0.5, seed=1)
    stamps = np.cumsum(5.0 + np.random.default_rng(2).exponential(15.0, 50)).round(3)  # ms
    shared = [[1], [1, 2], [3]]
    lines = [line(float(ms), [300, 700, 200][i % 3], shared[i % 3], output_length=3 + i % 4)
             for i, ms in enumerate(stamps)]
    config = BenchmarkConfig(api_base=server.url, trace=write_trace(tmp_path / "t.jsonl", lines),
                             max_concurrency=16, max_requests_per_run=None, max_time_per_run=1.0,
                             experiment_base_dir=str(tmp_path), experiment_folder_name="exp", seed=5)
    session = BenchmarkSession(config)
    result = session.run(handle_signals=False).results[0]
    session.close()
    run_file = tmp_path / "exp" / "trace_text-to-text_num_concurrency_16_time_60s.json"
    aggregated = json.loads(run_file.read_text())["aggregated_metrics"]
    trace = aggregated["trace"]
    print(f"send error p50 {trace['send_error_p50'] * 1e3:.3f} ms, p99 {trace['send_error_p99'] * 1e3:.3f} ms")
    assert trace["requests"] == 50 and trace["speed"] == 1.0 and aggregated["scenario"] == "trace"
    # The bound is the (p99 under 2 ms at 1x); on a host already running more than a process per core, one
    # descheduling of this one is the p99 of 50 sends, so there only the median is held to it.
    busy = os.getloadavg()[0] > (os.cpu_count() or 1)
    assert 0 <= trace["send_error_p50"] <= trace["send_error_p99"]
    assert (trace["send_error_p50"] if busy else trace["send_error_p99"]) < 0.002
    assert aggregated["stats"]["schedule_lag"] is not None  # the trace's times are the schedule
    # What the server received: exact lengths, the trace's output limits, and shared blocks as equal text.
    bodies = list(server.app.received)
    assert len(bodies) == 50 and all(r.record.ok for r in result.requests)
    assert [b["max_tokens"] for b in bodies] == [3 + i % 4 for i in range(50)]
    tokenizer = builtin_tokenizer()
    prompts = [b["messages"][0]["content"] for b in bodies]
    assert [tokenizer.count(p) for p in prompts] == [[300, 700, 200][i % 3] for i in range(50)]
    assert all(len(set(prompts[first::3])) == 1 for first in range(3))  # the same hash ids: the same text
    assert prompts[1].startswith(prompts[0])  # [1] (300 tokens) is the start of [1, 2] (block 1 whole, then 2)
    assert prompts[1][:20] != prompts[2][:20]  # block 3 is other text
