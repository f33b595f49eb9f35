"""One unit table for every duration option: --slo, --alert's threshold and `for`, --streaming-redis-retention."""

import pytest

from genai_bench.durations import to_seconds


@pytest.mark.parametrize("number, unit, seconds", [
    (500, "ms", 0.5), (10, "s", 10.0), (10, "", 10.0), (90, "m", 5400.0), (2, "MIN", 120.0), (12, "h", 43200.0),
    (7, "d", 604800.0),
])
def test_each_unit_in_seconds(number, unit, seconds):
    assert to_seconds(number, unit) == pytest.approx(seconds)


def test_an_unknown_unit_is_refused():
    with pytest.raises(KeyError):
        to_seconds(1, "fortnight")
