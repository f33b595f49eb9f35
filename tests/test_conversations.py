"""Multi-turn sessions against a real simulator: histories with the server's answers, budgets, think time, turns."""

import json
from array import array
from collections import defaultdict

import pytest

from genai_bench.client import Target
from genai_bench.config import BenchmarkConfig, ConfigError
from genai_bench.metrics import MetricsCollector, aggregate, request_metrics
from genai_bench.options import parse_benchmark_args
from genai_bench.prompt_datasets import DatasetSpec
from genai_bench.protocol import RequestRecord
from genai_bench.results.reader import to_seconds
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession

RUN_FILE = "D20_10_text-to-text_num_concurrency_2_time_60s.json"


def sharegpt_file(tmp_path, conversations: int = 4):
    """A ShareGPT file of 3-turn conversations (distinct user messages, reference answers never to be sent)."""
    rows = []
    for c in range(conversations):
        turns = [{"from": "system", "value": f"You are bot {c}."}] if c == 0 else []
        for t in range(1, 4):
            turns += [{"from": "human", "value": f"Question {t} of conversation {c}?"},
                      {"from": "gpt", "value": f"REFERENCE answer {t} of {c}"}]
        rows.append({"id": str(c), "conversations": turns})
    path = tmp_path / "chats.json"
    path.write_text(json.dumps(rows))
    return path


def make_session(tmp_path, server, dataset_path=None, **fields) -> BenchmarkSession:
    settings = dict(api_base=server.url, traffic_scenarios=[parse_scenario("D(20,10)")], concurrencies=[2],
                    max_requests_per_run=12, max_time_per_run=1.0, experiment_base_dir=str(tmp_path),
                    experiment_folder_name="exp", seed=3)
    if dataset_path is not None:
        settings["dataset"] = DatasetSpec.from_cli(str(dataset_path))
    settings.update(fields)
    return BenchmarkSession(BenchmarkConfig(**settings))


def run_file_requests(tmp_path) -> list[dict]:
    return json.loads((tmp_path / "exp" / RUN_FILE).read_text())["individual_request_metrics"]


def by_session(requests: list[dict]) -> dict[str, list[dict]]:
    sessions = defaultdict(list)
    for request in sorted(requests, key=lambda r: r["start_time"]):
        sessions[request["session_id"]].append(request)
    return sessions


def test_each_turn_sends_the_earlier_user_turns_with_the_servers_own_answers(tmp_path, fast_simulator):
    fast_simulator.app.keep_chats(100)
    dataset = sharegpt_file(tmp_path)
    session = make_session(tmp_path, fast_simulator, dataset, multi_turn=True)
    result = session.run(handle_signals=False).results[0]
    session.close()
    assert len(result.requests) == 12 and all(m.record.ok for m in result.requests)
    chats = list(fast_simulator.app.chats)
    assert len(chats) == 12
    answers: dict[str, list[str]] = defaultdict(list)  # the history sent -> the answers the simulator gave to it
    for chat in chats:
        answers[json.dumps(chat["messages"])].append(chat["answer"])
    later_turns = 0
    for chat in chats:
        messages = [m for m in chat["messages"] if m["role"] != "system"]
        system = chat["messages"][:len(chat["messages"]) - len(messages)]
        users = [m["content"] for m in messages[0::2]]
        conversation = users[0].split()[-1].rstrip("?")
        # The user turns are the conversation's own, in order; the system prompt leads where the dataset has one.
        assert users == [f"Question {t} of conversation {conversation}?" for t in range(1, len(users) + 1)]
        assert system == ([{"role": "system", "content": "You are bot 0."}] if conversation == "0" else [])
        assert [m["role"] for m in messages] == ["user", "assistant"] * (len(users) - 1) + ["user"]
        # Every assistant message is exactly what the simulator answered to the history before it.
        for k in range(1, len(messages), 2):
            earlier = json.dumps(system + messages[:k])
            assert messages[k]["content"] in answers[earlier]
            assert "REFERENCE" not in messages[k]["content"]
        later_turns += len(users) > 1
    assert later_turns == sum(1 for m in result.requests if m.record.turn > 1) > 0
    assert max(m.record.turn for m in result.requests) == 3


def test_run_files_carry_session_and_turn_and_turns_follow_their_answers(tmp_path, fast_simulator):
    dataset = sharegpt_file(tmp_path)
    session = make_session(tmp_path, fast_simulator, dataset, multi_turn=True, max_requests_per_run=10)
    statistics = session.run(handle_signals=False).results[0].statistics
    session.close()
    requests = run_file_requests(tmp_path)
    assert len(requests) == statistics.num_requests == 10  # the budget counts turns, exactly
    for turns in by_session(requests).values():
        assert [r["turn"] for r in turns] == list(range(1, len(turns) + 1))
        assert all(later["start_time"] >= earlier["end_time"] for earlier, later in zip(turns, turns[1:]))
    assert set(statistics.stats_by_turn) == {str(t) for t in {r["turn"] for r in requests}}
    assert sum(entry["count"] for entry in statistics.stats_by_turn.values()) == 10
    metadata = json.loads((tmp_path / "exp" / "experiment_metadata.json").read_text())
    assert metadata["workload"]["multi_turn"] == {"turns": "dataset", "think_time": 0.0}
    assert metadata["workload"]["dataset"]["rows"] == 4 and metadata["workload"]["prefix"] is None


def test_synthetic_turns_send_scenario_sized_messages_after_the_history(tmp_path, fast_simulator):
    fast_simulator.app.keep_chats(100)
    session = make_session(tmp_path, fast_simulator, turns=3, max_requests_per_run=13)
    result = session.run(handle_signals=False).results[0]
    session.close()
    assert len(result.requests) == 13
    sessions = by_session(run_file_requests(tmp_path))
    assert len(sessions) >= 13 // 3 and {r["session_id"] for r in run_file_requests(tmp_path)} == set(sessions)
    for turns in sessions.values():
        assert len(turns) <= 3
        inputs = [r["num_input_tokens"] for r in turns]
        # D(20,10): 20, then 20 + 10 (the answer) + 20, then 80 (the simulator may merge a token at a seam).
        for turn, tokens in enumerate(inputs, start=1):
            assert abs(tokens - (20 * turn + 10 * (turn - 1))) <= 2 * (turn - 1)
        assert inputs == sorted(set(inputs))
    by_turn = result.statistics.stats_by_turn
    assert by_turn["1"]["num_input_tokens"] == 20
    assert by_turn["1"]["num_input_tokens"] < by_turn["2"]["num_input_tokens"] < by_turn["3"]["num_input_tokens"]
    third_turns = [chat for chat in fast_simulator.app.chats if len(chat["messages"]) == 5]
    assert third_turns and all(len(chat["answer"].split()) == 10 for chat in third_turns)


def test_think_time_spaces_the_turns_and_counts_in_no_latency(tmp_path, fast_simulator):
    session = make_session(tmp_path, fast_simulator, turns=2, think_time=0.3, concurrencies=[2],
                           max_requests_per_run=4)
    result = session.run(handle_signals=False).results[0]
    session.close()
    assert len(result.requests) == 4
    requests = run_file_requests(tmp_path)
    for first, second in by_session(requests).values():
        assert second["start_time"] - first["end_time"] >= 0.3
    assert max(r["e2e_latency"] for r in requests) < 0.25 and max(r["ttft"] for r in requests) < 0.1
    assert json.loads((tmp_path / "exp" / "experiment_metadata.json").read_text())["workload"] == {
        "dataset": None, "prefix": None, "trace": None, "images": None, "multi_turn": {"turns": 2, "think_time": 0.3}}


def test_a_run_that_ends_during_think_time_stops_the_conversation_at_once(tmp_path, fast_simulator):
    session = make_session(tmp_path, fast_simulator, turns=3, think_time=60.0, max_time_per_run=0.005,
                           max_requests_per_run=100)
    result = session.run(handle_signals=False).results[0]
    session.close()
    assert result.ended_at - result.started_at < 5.0
    assert [m.record.turn for m in result.requests] == [1, 1]


def test_single_turn_runs_have_no_turns_and_no_stats_by_turn(tmp_path, fast_simulator):
    session = make_session(tmp_path, fast_simulator, max_requests_per_run=3)
    statistics = session.run(handle_signals=False).results[0].statistics
    session.close()
    assert statistics.stats_by_turn is None and statistics.to_dict()["stats_by_turn"] is None
    assert {(r["session_id"], r["turn"]) for r in run_file_requests(tmp_path)} == {(None, None)}
    assert json.loads((tmp_path / "exp" / "experiment_metadata.json").read_text())["workload"] == {
        "dataset": None, "prefix": None, "trace": None, "images": None, "multi_turn": None}


def turn_record(turn: int, start: float, ttft: float, e2e: float, tokens: int, ok: bool = True) -> RequestRecord:
    record = RequestRecord("D(1,2)", 1, tokens, 2, start=start, first_token=start + ttft, end=start + e2e,
                           chunk_times=array("d", [start + ttft, start + e2e]), num_output_tokens=2, session_id=f"s{start}",
                           turn=turn)
    if not ok:
        record.fail("500", "boom", start + e2e)
    return record


def test_stats_by_turn_by_hand():
    records = [turn_record(1, 0.0, 0.1, 0.5, 10), turn_record(1, 1.0, 0.3, 0.7, 20), turn_record(2, 2.0, 0.2, 0.4, 40),
               turn_record(2, 3.0, 0.9, 1.0, 99, ok=False)]
    statistics = aggregate([request_metrics(r) for r in records], "D(1,2)", 1)
    by_turn = statistics.stats_by_turn
    assert list(by_turn) == ["1", "2"]
    assert by_turn["1"]["count"] == 2 and by_turn["1"]["errors"] == 0
    assert by_turn["1"]["ttft"]["mean"] == pytest.approx(0.2) and by_turn["1"]["ttft"]["max"] == pytest.approx(0.3)
    assert by_turn["1"]["e2e_latency"]["p50"] == pytest.approx(0.6) and by_turn["1"]["num_input_tokens"] == 15
    one = {name: value for name, value in by_turn["2"].items() if name not in ("ttft", "e2e_latency")}
    assert one == {"count": 1, "errors": 1, "num_input_tokens": 40.0}  # the failed request counts only as an error
    assert by_turn["2"]["ttft"] == pytest.approx({**{k: 0.2 for k in by_turn["2"]["ttft"]}, "stddev": 0.0})
    assert by_turn["2"]["e2e_latency"] == pytest.approx({**{k: 0.4 for k in by_turn["2"]["ttft"]}, "stddev": 0.0})
    in_ms = statistics.to_dict("ms")["stats_by_turn"]
    assert in_ms["1"]["ttft"]["mean"] == pytest.approx(200.0) and in_ms["1"]["num_input_tokens"] == 15
    back = to_seconds({"stats": {}, "stats_by_turn": in_ms}, "ms")["stats_by_turn"]
    assert back["1"]["e2e_latency"]["max"] == pytest.approx(0.7) and back["1"]["count"] == 2


def test_live_snapshot_has_p50s_by_turn_over_the_window():
    collector = MetricsCollector(live_window=3)
    collector.begin_run("D(1,2)", 1, 0.0)
    assert collector.live_snapshot(1.0)["by_turn"] is None
    for record in [turn_record(1, 0.0, 0.1, 0.5, 10), turn_record(1, 1.0, 0.3, 0.7, 20),
                   turn_record(2, 2.0, 0.2, 0.4, 40), turn_record(2, 3.0, 0.4, 0.6, 40),
                   turn_record(2, 4.0, 0.5, 0.6, 40, ok=False)]:
        collector.record(record)
    # The window (3) holds the second turn-1 request and both successful turn-2 ones; counts cover the whole run.
    assert collector.live_snapshot(5.0)["by_turn"] == {
        "1": {"count": 2, "ttft_p50": pytest.approx(0.3), "e2e_latency_p50": pytest.approx(0.7)},
        "2": {"count": 2, "ttft_p50": pytest.approx(0.3), "e2e_latency_p50": pytest.approx(0.5)}}


def test_session_and_turn_cross_the_wire():
    record = turn_record(3, 1.0, 0.1, 0.2, 5)
    again = RequestRecord.from_wire(record.to_wire())
    assert (again.session_id, again.turn) == ("s1.0", 3) and again == record


def test_a_chat_history_is_sent_as_the_messages():
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
               {"role": "user", "content": "and?"}]
    body = json.loads(Target(api_base="http://x", model="m").payload(history, 5))
    assert body["messages"] == history


@pytest.mark.parametrize("args, message", [
    (["--turns", "3", "--endpoint", "completions"], "--turns 3 needs --endpoint chat"),
    (["--multi-turn", "--endpoint", "completions"], "--multi-turn needs --endpoint chat"),
    (["--multi-turn", "--turns", "2"], "give only one"),
    (["--turns", "0"], "--turns must be an integer from 1"),
    (["--think-time", "2"], "--think-time needs --multi-turn or --turns N"),
    (["--turns", "2", "--think-time", "-1"], "--think-time must be 0 or more"),
    (["--turns", "2", "--think-time", "nan"], "--think-time must be 0 or more"),
    (["--turns", "2", "--request-rate", "5"], "drop --request-rate"),
])
def test_multi_turn_settings_that_cannot_work_are_refused_in_one_line(args, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_benchmark_args(args)
    assert "\n" not in str(info.value)


def test_multi_turn_without_a_conversation_dataset_is_refused_in_one_line(tmp_path, fast_simulator):
    with pytest.raises(ConfigError, match="--multi-turn plays the conversations of a dataset"):
        make_session(tmp_path, fast_simulator, multi_turn=True)
    single = tmp_path / "single.jsonl"
    single.write_text('{"prompt": "hello"}\n')
    with pytest.raises(ConfigError, match="no conversation with more than one user turn"):
        make_session(tmp_path, fast_simulator, single, multi_turn=True)


def test_dataset_conversations_on_worker_processes_are_refused_in_one_line(tmp_path, fast_simulator):
    dataset = sharegpt_file(tmp_path)
    with pytest.raises(ConfigError, match="drop --num-workers"):
        make_session(tmp_path, fast_simulator, dataset, multi_turn=True, num_workers=2)
