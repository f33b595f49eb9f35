"""Process-level care: the heap frozen after start-up."""

import gc

from genai_bench.processes import freeze_long_lived_objects


def test_freezing_exempts_what_is_alive_now_from_collections():
    survivor = {"kept": [1, 2, 3]}
    try:
        freeze_long_lived_objects()
        assert gc.get_freeze_count() > 0
        assert not any(obj is survivor for obj in gc.get_objects())  # no longer walked by collections
    finally:
        gc.unfreeze()
    assert any(obj is survivor for obj in gc.get_objects())
