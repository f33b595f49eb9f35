"""Process-level care: the heap frozen after start-up, children ended in escalating steps."""

import gc
import signal
import subprocess
import sys

from genai_bench.processes import end_children, freeze_long_lived_objects


def test_freezing_exempts_what_is_alive_now_from_collections():
    survivor = {"kept": [1, 2, 3]}
    try:
        freeze_long_lived_objects()
        assert gc.get_freeze_count() > 0
        assert not any(obj is survivor for obj in gc.get_objects())  # no longer walked by collections
    finally:
        gc.unfreeze()
    assert any(obj is survivor for obj in gc.get_objects())


def test_ending_children_waits_then_terminates_then_kills():
    """A child that exits by itself is left to; one that ignores SIGTERM is killed; the rest are terminated."""
    script = {"exits": "import time; print(flush=True); time.sleep(0.2)",
              "stubborn": "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); "
                          "time.sleep(60)",
              "sleeps": "import time; print(flush=True); time.sleep(60)"}
    children = {name: subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
                for name, code in script.items()}
    for child in children.values():
        child.stdout.readline()  # started, its signal handler in place
    end_children(list(children.values()), timeout=1.0)
    assert children["exits"].returncode == 0
    assert children["sleeps"].returncode == -signal.SIGTERM
    assert children["stubborn"].returncode == -signal.SIGKILL
    for child in children.values():
        child.stdout.close()
