"""Metric formulas against hand-computed values, and run aggregation."""

import math

import numpy as np
import pytest

from genai_bench.metrics import (
    MetricsCollector,
    aggregate,
    describe,
    histogram,
    inter_token_latencies,
    request_metrics,
)
from genai_bench.protocol import RequestRecord


def record(start=10.0, first=10.2, end=11.2, out=11, chunks=None, error=None, inp=50):
    rec = RequestRecord("D(50,11)", 1, inp, out, start=start, first_token=first, end=end, num_output_tokens=out)
    rec.chunk_times = chunks if chunks is not None else [first + 0.1 * i for i in range(out)]
    if error:
        rec.fail(error, "boom", end)
    return rec


def test_request_metrics_match_hand_computed_values():
    m = request_metrics(record())
    assert m.ttft == pytest.approx(0.2)
    assert m.e2e_latency == pytest.approx(1.2)
    assert m.output_latency == pytest.approx(1.0)
    assert m.tpot == pytest.approx(1.0 / 10)
    assert m.output_inference_speed == pytest.approx(10.0)
    assert m.input_throughput == pytest.approx(50 / 0.2)
    assert m.output_throughput == pytest.approx(10 / 1.0)
    assert m.itl == pytest.approx([0.1] * 10)


def test_single_token_has_no_tpot_or_output_throughput():
    m = request_metrics(record(end=10.2, out=1, chunks=[10.2]))
    assert m.ttft == pytest.approx(0.2)
    assert m.tpot is None and m.output_throughput is None and m.itl == []


def test_itl_divides_gaps_by_tokens_per_chunk():
    # 3 chunks carrying 6 tokens: each 0.4 s gap covers two tokens.
    assert inter_token_latencies([1.0, 1.4, 1.8], 6) == pytest.approx([0.2, 0.2])


def test_error_keeps_real_latency_but_no_token_metrics():
    m = request_metrics(record(error="500"))
    assert m.e2e_latency == pytest.approx(1.2)
    assert m.ttft is None and m.tpot is None


def test_describe_interpolates_percentiles_between_samples():
    # Linear interpolation: the p-th percentile of n sorted values sits at position p/100 * (n - 1), here p * 0.03.
    # p25: 0.75 -> 1 + 0.75 * (2 - 1) = 1.75   p50: 1.5 -> 2.5    p75: 2.25 -> 3.25
    # p90: 2.7 -> 3.7    p95: 2.85 -> 3.85    p99: 2.97 -> 3.97
    # mean 10 / 4 = 2.5; population stddev sqrt((1.5² + 0.5² + 0.5² + 1.5²) / 4) = sqrt(1.25) = 1.1180...
    assert describe([4, 1, 3, 2]) == pytest.approx({
        "mean": 2.5, "min": 1.0, "max": 4.0, "stddev": math.sqrt(1.25), "sum": 10.0,
        "p25": 1.75, "p50": 2.5, "p75": 3.25, "p90": 3.7, "p95": 3.85, "p99": 3.97,
    })
    assert list(describe([1, 2], ("p50", "max"))) == ["p50", "max"]  # only the asked-for names, in that order
    assert describe([7.0]) == pytest.approx({"mean": 7.0, "min": 7.0, "max": 7.0, "stddev": 0.0, "sum": 7.0, "p25": 7.0,
                                             "p50": 7.0, "p75": 7.0, "p90": 7.0, "p95": 7.0, "p99": 7.0})
    assert describe([]) is None


def test_histogram_bins_span_min_to_max_and_the_last_bin_holds_the_max():
    # Four bins of 0.25 over [0, 1]: 0.0 and 0.1 in the first, 0.35 in the second, none in the third, 1.0 in the last.
    assert histogram([0.0, 0.1, 0.35, 1.0], bins=4) == {"edges": [0.0, 0.25, 0.5, 0.75, 1.0], "counts": [2, 1, 0, 1]}


def test_aggregate_counts_errors_and_rates():
    metrics = [request_metrics(record(start=10.0 + i, first=10.2 + i, end=11.2 + i)) for i in range(3)]
    metrics.append(request_metrics(record(start=13.0, first=13.1, end=13.5, error="429")))
    stats = aggregate(metrics, "D(50,11)", 1)
    assert stats.num_requests == 4 and stats.num_completed_requests == 3 and stats.num_error_requests == 1
    assert stats.error_rate == pytest.approx(0.25)
    assert stats.error_kinds_frequency == stats.error_codes_frequency == {"429": 1}
    assert stats.run_duration == pytest.approx(13.5 - 10.0)
    assert stats.requests_per_second == pytest.approx(3 / 3.5)
    assert stats.mean_output_throughput_tokens_per_s == pytest.approx(33 / 3.5)
    assert stats.stats["ttft"]["mean"] == pytest.approx(0.2)
    assert stats.stats["itl"]["p50"] == pytest.approx(0.1)


def test_warmup_is_excluded_and_throughput_uses_the_measured_window():
    # Ten back-to-back one-second requests; the first two are warmup.
    metrics = [request_metrics(record(start=float(i), first=i + 0.1, end=i + 1.0)) for i in range(10)]
    stats = aggregate(metrics, "D(50,11)", 1, warmup_ratio=0.2)
    assert stats.num_requests == 8 and stats.num_excluded == 2
    assert stats.run_duration == pytest.approx(8.0)  # from start of request 2 to the end of request 9
    assert stats.requests_per_second == pytest.approx(1.0)


def test_time_unit_scales_latencies_only():
    stats = aggregate([request_metrics(record())], "D(50,11)", 1)
    in_ms = stats.to_dict("ms")
    assert in_ms["stats"]["ttft"]["mean"] == pytest.approx(200.0)
    assert in_ms["stats"]["output_throughput"]["mean"] == pytest.approx(10.0)
    assert in_ms["mean_output_throughput_tokens_per_s"] == stats.mean_output_throughput_tokens_per_s


def test_collector_live_snapshot_and_histograms():
    collector = MetricsCollector(live_window=5)
    collector.begin_run("D(50,11)", 2, start=0.0)
    for i in range(8):
        collector.record(record(start=float(i), first=i + 0.1 * (i + 1), end=i + 1.2))
    collector.record(record(error="503"))
    live = collector.live_snapshot(now=10.0)
    assert live["completed"] == 8 and live["errors"] == 1
    assert live["requests_per_second"] == pytest.approx(0.8)
    assert live["window"] == 5  # the 5 most recent successful requests (a failed one has no latencies)
    # TTFT of request i is 0.1 * (i + 1); the window holds requests 3..7: 0.4, 0.5, 0.6, 0.7, 0.8.
    # p90 sits at position 0.9 * 4 = 3.6: 0.7 + 0.6 * 0.1 = 0.76; p99 at 3.96: 0.7 + 0.96 * 0.1 = 0.796.
    assert live["stats"]["ttft"] == pytest.approx({"mean": 0.6, "min": 0.4, "max": 0.8, "p50": 0.6, "p90": 0.76,
                                                   "p99": 0.796})
    ttft_histogram = collector.histograms()["ttft"]
    assert sum(ttft_histogram["counts"]) == 5
    assert ttft_histogram["edges"][0] == pytest.approx(0.4) and ttft_histogram["edges"][-1] == pytest.approx(0.8)
    assert math.isclose(live["error_rate"], 1 / 9)


def test_reasoning_requests_have_answer_ttft_and_reasoning_token_stats():
    thinking = record(start=10.0, first=10.2, end=11.2)
    thinking.first_answer, thinking.reasoning_tokens = 10.5, 3
    plain = record(start=20.0, first=20.1, end=21.0)
    plain.first_answer = 20.1
    metrics = [request_metrics(thinking), request_metrics(plain)]
    # Answer TTFT: 10.5 - 10.0 = 0.5 s after reasoning; none for a request that did not reason (it is its ttft).
    assert metrics[0].ttft_answer == pytest.approx(0.5) and metrics[1].ttft_answer is None
    stats = aggregate(metrics, "D(50,11)", 1).stats
    assert stats["num_reasoning_tokens"]["mean"] == 3 and stats["num_reasoning_tokens"]["max"] == 3
    assert stats["ttft_answer"]["p50"] == pytest.approx(0.5)
    assert aggregate([metrics[1]], "D(50,11)", 1).stats["ttft_answer"] is None


def test_token_count_mismatch_is_the_share_of_checked_requests_off_by_more_than_5_percent():
    # Four checked: 100 vs 100 (0%), 100 vs 96 (4%), 100 vs 94 (6%), 50 vs 60 (20%): two of four are off.
    records = [record(out=out) for out in (100, 100, 100, 50, 100)]
    for rec, local in zip(records, (100, 96, 94, 60, None)):
        rec.local_output_tokens = local
    statistics = aggregate([request_metrics(r) for r in records], "D(50,11)", 1)
    assert statistics.token_count_checked == 4
    assert statistics.token_count_mismatch == 0.5
    assert aggregate([request_metrics(record())], "D(50,11)", 1).token_count_mismatch is None


# ---------------------------------------------------------------- SLOs and goodput (slo.py)
SLO = {"ttft": 0.25, "tpot": 0.12, "e2e_latency": 2.0}


def test_slo_attainment_and_goodput_are_shares_of_every_measured_request():
    # Four requests over 10..14 s (duration 4 s): one meets all, one misses TTFT only, one misses TPOT only, one error.
    good = record(start=10.0, first=10.2, end=11.2, out=11)          # ttft 0.2, tpot 0.1, e2e 1.2
    slow_first = record(start=11.0, first=11.3, end=12.3, out=11)    # ttft 0.3 > 0.25
    slow_tokens = record(start=12.0, first=12.1, end=13.6, out=11)   # tpot 1.5 / 10 = 0.15 > 0.12
    failed = record(start=13.0, first=13.1, end=14.0, error="500")   # errors meet nothing, not even e2e
    stats = aggregate([request_metrics(r) for r in (good, slow_first, slow_tokens, failed)], "D(50,11)", 1, slo=SLO)
    assert stats.run_duration == 4.0
    assert stats.slo == {
        "targets": SLO, "attainment": 0.25,
        "per_metric": {"ttft": 0.5, "tpot": 0.5, "e2e_latency": 0.75},
        "goodput_requests_per_second": 1 / 4.0, "goodput_output_tokens_per_second": 11 / 4.0}
    assert aggregate([request_metrics(good)], "D(50,11)", 1).slo is None  # no SLO, no slo
    assert stats.to_dict("ms")["slo"]["targets"] == pytest.approx({"ttft": 250.0, "tpot": 120.0, "e2e_latency": 2000.0})


def test_a_metric_that_cannot_apply_is_met_but_a_missing_token_is_not():
    one_token = request_metrics(record(start=10.0, first=10.2, end=10.2, out=1, chunks=[10.2]))  # no tpot, no itl
    no_token = request_metrics(record(start=11.0, first=None, end=11.5, out=0, chunks=[]))        # ok, but empty
    thinking = record(start=12.0, first=12.1, end=13.1)
    thinking.first_answer, thinking.reasoning_tokens = 12.6, 3   # answer TTFT 0.6 s
    plain = request_metrics(record(start=14.0, first=14.2, end=15.2))  # answer TTFT is its TTFT, 0.2 s
    targets = {"tpot": 0.05, "itl": 0.05, "ttft_answer": 0.5, "e2e_latency": 1.0}
    stats = aggregate([one_token, no_token, request_metrics(thinking), plain], "D(50,11)", 1, slo=targets)
    # tpot/itl: one_token meets (cannot apply), no_token does not, the 0.1 s-per-token answers miss.
    # ttft_answer: one_token 0.2 and plain 0.2 meet, thinking 0.6 and no_token miss. e2e: only the two short ones.
    assert stats.slo["per_metric"] == pytest.approx({"tpot": 0.25, "itl": 0.25, "ttft_answer": 0.5, "e2e_latency": 0.5})
    assert stats.slo["attainment"] == pytest.approx(0.25)


def test_itl_slo_holds_each_requests_largest_gap():
    steady = record(start=10.0, first=10.2, end=11.2, out=11)  # gaps of 0.1 s
    stalled = record(start=20.0, first=20.2, end=21.5, out=11,
                     chunks=[20.2 + 0.1 * i for i in range(5)] + [21.0 + 0.1 * i for i in range(6)])  # one 0.6 s gap
    stats = aggregate([request_metrics(steady), request_metrics(stalled)], "D(50,11)", 1, slo={"itl": 0.15})
    assert stats.slo["per_metric"] == {"itl": 0.5}
    assert stats.slo["goodput_output_tokens_per_second"] == pytest.approx(11 / 11.5)


def test_live_slo_attainment_is_over_the_window_and_goodput_over_the_run():
    collector = MetricsCollector(live_window=4, slo={"ttft": 0.25})
    collector.begin_run("D(50,11)", 1, start=0.0)
    assert collector.live_snapshot(now=1.0)["slo"]["attainment"] is None  # nothing measured yet
    # TTFTs alternate 0.1 (met) and 0.3 (missed) over six requests, then an error.
    for i in range(6):
        collector.record(record(start=float(i), first=i + (0.1 if i % 2 == 0 else 0.3), end=i + 1.0))
    collector.record(record(start=6.0, first=6.1, end=7.0, error="503"))
    live = collector.live_snapshot(now=10.0)["slo"]
    # Window: requests 3 (0.3), 4 (0.1), 5 (0.3), the error: one in four meets. Run so far: 3 good in 10 s.
    assert live["attainment"] == pytest.approx(0.25) and live["per_metric"] == {"ttft": pytest.approx(0.25)}
    assert live["window"] == 4
    assert live["goodput_requests_per_second"] == pytest.approx(0.3)
    assert live["goodput_output_tokens_per_second"] == pytest.approx(3 * 11 / 10.0)
    assert collector.finish_run(0.0, 0.0).slo["attainment"] == pytest.approx(3 / 7)
    assert MetricsCollector().live_snapshot(now=1.0)["slo"] is None


def test_itl_array_holds_the_same_gaps_as_itl():
    """Run statistics and run files read the vectorised gaps: the very same floats, chunk by chunk."""
    steady = request_metrics(record(start=0.0, first=0.25, end=1.7, out=30, chunks=[0.25 + 0.1 * i for i in range(15)]))
    assert steady.itl_array().tolist() == steady.itl and len(steady.itl) == 14
    assert steady.to_dict(time_unit="ms")["itl"] == [gap * 1000.0 for gap in steady.itl]
    failed = request_metrics(record(start=0.0, first=None, end=1.0, out=0, chunks=[]))
    assert failed.itl_array().size == 0 and failed.to_dict()["itl"] == []


def test_live_describe_gives_describes_very_own_floats():
    """The live tick's one-sort statistics equal describe(values, LIVE_STATS) exactly, for any window size."""
    from collections import deque

    from genai_bench.metrics import LIVE_STATS, describe, live_describe

    rng = np.random.default_rng(0)
    for size in [*range(1, 40), 100, 1999, 2000]:
        for values in (rng.random(size), rng.exponential(size=size) * 1e-3, rng.integers(0, 4, size).astype(float)):
            window = deque(values.tolist())
            assert live_describe(window) == describe(values, LIVE_STATS)
            assert list(live_describe(window)) == list(LIVE_STATS)
    assert live_describe(deque()) is None
