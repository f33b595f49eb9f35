"""Traffic scenario grammar, names and sampling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_bench.scenarios import MAX_SCENARIO_TOKENS, Scenario, ScenarioError, parse_scenario

VALID = [
    # text, kind, params, canonical text, name, task kind
    ("D(100,100)", "D", (100, 100), "D(100,100)", "D100_100", "text"),
    ("D(007,10)", "D", (7, 10), "D(7,10)", "D7_10", "text"),
    ("N(480,240)/(300,150)", "N", (480, 240, 300, 150), "N(480,240)/(300,150)", "N480_240_300_150", "text"),
    ("N(100,0)/(50,0)", "N", (100, 0, 50, 0), "N(100,0)/(50,0)", "N100_0_50_0", "text"),
    ("U(50,100)/(200,300)", "U", (50, 100, 200, 300), "U(50,100)/(200,300)", "U50_100_200_300", "text"),
    ("U(5,5)/(7,7)", "U", (5, 5, 7, 7), "U(5,5)/(7,7)", "U5_5_7_7", "text"),
    ("U(100,200)", "U", (100, 200), "U(100,200)", "U100_200", "text"),
    ("E(1024)", "E", (1024,), "E(1024)", "E1024", "embedding"),
]

MALFORMED = [
    "",
    "D(100)",
    "D(100,100",
    "D100,100)",
    "D(100,100)x",
    "D(100,100)/",
    "D(100,100)/(1,2)",
    "xD(100,100)",
    "DD(100,100)",
    "D (100,100)",
    "D(100, 100)",
    " D(100,100)",
    "D(100,100) ",
    "D(100,100)\n",
    "D(1,2)\nD(3,4)",
    "d(100,100)",
    "X(1,2)",
    "D(0,100)",
    "D(100,0)",
    "D(-1,5)",
    "D(1.5,2)",
    "D(,)",
    "D()",
    "N(480,240)",
    "N(480,-240)/(300,150)",
    "N(0,10)/(100,10)",
    "N(100,10)/(0,10)",
    "N(1,2)/(3,4)/(5,6)",
    "U(200,100)/(1,2)",
    "U(1,2)/(5,3)",
    "U(0,10)",
    "U(10,0)",
    "U(0,5)/(1,5)",
    "U(1,2,3)",
    "E(0)",
    "E()",
    "E(1,2)",
    "E(-5)",
    "E(12)x",
]


@pytest.mark.parametrize(("text", "kind", "params", "canonical", "name", "task"), VALID)
def test_parse_valid(text: str, kind: str, params: tuple, canonical: str, name: str, task: str) -> None:
    scenario = parse_scenario(text)
    assert scenario.kind == kind
    assert scenario.params == params
    assert scenario.text == canonical
    assert str(scenario) == canonical
    assert scenario.name == name
    assert scenario.task_kind == task


def test_canonical_text_round_trips() -> None:
    for text, *_ in VALID:
        scenario = parse_scenario(text)
        assert parse_scenario(scenario.text) == scenario


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_raises_one_line_error(text: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"invalid traffic scenario {text!r}")
    assert "expected D(in,out), N(mean_in,sd_in)/(mean_out,sd_out)" in message
    assert "E(tokens), R(document_tokens,query_tokens), I(width,height), I(width,height,count) or dataset" in message


def test_error_is_value_error_and_names_reason() -> None:
    with pytest.raises(ValueError, match="min must not exceed max"):
        parse_scenario("U(200,100)/(1,2)")
    with pytest.raises(ScenarioError, match="spaces are not allowed"):
        parse_scenario("D(1, 2)")
    with pytest.raises(ScenarioError, match="must not be negative"):
        parse_scenario("N(10,-1)/(10,1)")


def test_non_string_is_rejected() -> None:
    with pytest.raises(ScenarioError):
        parse_scenario(None)  # type: ignore[arg-type]


def test_scenario_is_frozen_and_hashable() -> None:
    scenario = parse_scenario("D(1,2)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.kind = "E"  # type: ignore[misc]
    assert {scenario, parse_scenario("D(1,2)")} == {Scenario("D", (1, 2))}


def test_fixed_and_embedding_samples() -> None:
    rng = np.random.default_rng(0)
    assert parse_scenario("D(100,50)").sample(rng) == (100, 50)
    assert parse_scenario("E(1024)").sample(rng) == (1024, 0)
    assert parse_scenario("N(100,0)/(50,0)").sample(rng) == (100, 50)


def _draw(text: str, seed: int, count: int = 2000) -> np.ndarray:
    scenario = parse_scenario(text)
    rng = np.random.default_rng(seed)
    return np.array([scenario.sample(rng) for _ in range(count)])


def test_uniform_bounds_inclusive() -> None:
    draws = _draw("U(50,60)/(200,205)", seed=1)
    assert draws[:, 0].min() == 50 and draws[:, 0].max() == 60
    assert draws[:, 1].min() == 200 and draws[:, 1].max() == 205


def test_uniform_short_form_starts_at_one() -> None:
    draws = _draw("U(5,7)", seed=2)
    assert set(draws[:, 0]) == {1, 2, 3, 4, 5}
    assert set(draws[:, 1]) == {1, 2, 3, 4, 5, 6, 7}


def test_samples_are_python_ints() -> None:
    for text in ("D(1,2)", "N(10,3)/(10,3)", "U(1,9)/(1,9)", "U(4,4)", "E(8)"):
        sample = parse_scenario(text).sample(np.random.default_rng(0))
        assert all(type(v) is int for v in sample), text


def test_normal_is_clamped_to_at_least_one() -> None:
    draws = _draw("N(1,100)/(2,100)", seed=3)
    assert draws.min() >= 1
    # About half the draws fall below 1 and must land exactly on the clamp.
    assert (draws[:, 0] == 1).mean() > 0.4
    assert (draws[:, 1] == 1).mean() > 0.4


def test_normal_centres_on_mean() -> None:
    draws = _draw("N(480,240)/(300,20)", seed=4, count=5000)
    assert abs(draws[:, 0].mean() - 480) < 20
    assert abs(draws[:, 1].mean() - 300) < 2
    assert 15 < draws[:, 1].std() < 25


@pytest.mark.parametrize("text", ["N(480,240)/(300,150)", "U(50,100)/(200,300)", "U(1000,1000)"])
def test_sampling_is_reproducible(text: str) -> None:
    assert np.array_equal(_draw(text, seed=7, count=200), _draw(text, seed=7, count=200))
    assert not np.array_equal(_draw(text, seed=7, count=200), _draw(text, seed=8, count=200))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("D(100,50)", (100.0, 50.0)),
        ("N(480,240)/(300,150)", (480.0, 300.0)),
        ("U(50,100)/(200,300)", (75.0, 250.0)),
        ("U(99,199)", (50.0, 100.0)),
        ("E(1024)", (1024.0, 0.0)),
    ],
)
def test_expected_tokens(text: str, expected: tuple[float, float]) -> None:
    assert parse_scenario(text).expected_tokens == expected


@pytest.mark.parametrize("text", ["D(1000000000000,1)", "N(1000001,1)/(1,1)", "U(1,2000000)", "D(1," + "9" * 5000 + ")"])
def test_lengths_beyond_any_context_window_are_refused_up_front(text: str) -> None:
    with pytest.raises(ScenarioError, match="at most 1,000,000") as info:
        parse_scenario(text)
    assert len(str(info.value)) < 400  # a 5,000-digit input still gives a readable line


def test_the_largest_length_is_accepted() -> None:
    assert parse_scenario(f"D({MAX_SCENARIO_TOKENS},1)").params == (MAX_SCENARIO_TOKENS, 1)


# Numbers as a user might type them: small, zero, padded with zeros, huge, or in another script's digits.
numbers = st.one_of(st.integers(0, 2_000_000).map(str), st.integers(0, 10**30).map(str),
                    st.from_regex(r"0{1,3}[0-9]{1,4}", fullmatch=True), st.sampled_from(["", "-1", "١", "1.5", " 1"]))
pairs = st.builds(lambda a, b: f"({a},{b})", numbers, numbers)
grammar_like = st.one_of(
    st.builds(lambda kind, p: kind + p, st.sampled_from("DNUEX"), pairs),
    st.builds(lambda kind, p, q, sep: f"{kind}{p}{sep}{q}", st.sampled_from("DNUE"), pairs, pairs,
              st.sampled_from(["/", "", "//", "/ "])),
    st.builds(lambda n: f"E({n})", numbers),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(grammar_like, st.text(max_size=40)))
def test_parse_scenario_raises_only_scenario_errors_and_what_it_accepts_round_trips(text: str) -> None:
    try:
        scenario = parse_scenario(text)
    except ScenarioError as exc:
        assert "\n" not in str(exc)
        return
    assert parse_scenario(scenario.text) == scenario
    assert all(1 <= v <= MAX_SCENARIO_TOKENS for v in scenario.params if scenario.kind != "N")
    assert scenario.text.isascii()
