"""Upstream genai-bench 0.0.5's own `excel` and `plot` commands run on folders this tool wrote.

Upstream is installed once from the package registry into its own venv, benchmarks/.venv-upstream (the one
benchmarks/upstream.py builds and reuses); the test is skipped, saying why, only when the registry cannot be reached.
"""

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.support.servers import run_benchmark

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# What pip says when the registry cannot be reached (as opposed to a real installation failure).
UNREACHABLE = ("No matching distribution", "Could not find a version", "NewConnectionError", "Max retries exceeded",
               "Temporary failure in name resolution", "Network is unreachable", "ConnectTimeout", "ReadTimeout")


def benchmarks_upstream():
    """benchmarks/upstream.py as a module (benchmarks/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("benchmarks_upstream", ROOT / "benchmarks" / "upstream.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """(upstream's genai-bench CLI, its environment), installing it on first use."""
    module = benchmarks_upstream()
    work = tmp_path_factory.mktemp("upstream-work")
    cli, reason = module.ensure_upstream(work)
    if cli is None:
        if any(marker in reason for marker in UNREACHABLE):
            pytest.skip(f"upstream genai-bench {module.UPSTREAM_VERSION} cannot be installed: the package registry "
                        f"is unreachable ({reason.splitlines()[-1]})")
        pytest.fail(f"installing upstream genai-bench failed: {reason}")
    return cli, module.upstream_env(work)


def run_upstream(upstream, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    cli, env = upstream
    # Upstream writes genai_bench.log into its working directory: keep it out of the checkout.
    done = subprocess.run([cli, *args], env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300,
                          check=False, cwd=cwd)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.parametrize("time_unit", ["s", "ms"])
def test_upstream_excel_and_plot_read_our_folder(tmp_path, upstream, time_unit):
    folder = run_benchmark(tmp_path, f"ours_{time_unit}", concurrencies=(1, 2), requests=6,
                           metrics_time_unit=time_unit)
    done = run_upstream(upstream, "excel", "--experiment-folder", str(folder), "--excel-name", "upstream",
                        "--metric-percentile", "p50", "--metrics-time-unit", "ms", cwd=tmp_path)
    workbook = load_workbook(folder / "upstream.xlsx")
    assert len(workbook.sheetnames) >= 2, done.stdout
    # Upstream's appendix sheet holds each run's aggregated fields: our throughput, as upstream read it.
    numbers = [cell.value for sheet in workbook for row in sheet.iter_rows() for cell in row
               if isinstance(cell.value, float)]
    for path in sorted(folder.glob("*_num_concurrency_*.json")):
        aggregated = json.loads(path.read_text())["aggregated_metrics"]
        for key in ("requests_per_second", "mean_output_throughput_tokens_per_s"):
            assert any(n == pytest.approx(aggregated[key], rel=1e-9) for n in numbers), (path.name, key)

    done = run_upstream(upstream, "plot", "--experiments-folder", str(folder), "--group-key", "traffic_scenario",
                        "--metrics-time-unit", time_unit, cwd=tmp_path)
    combined = folder / "traffic_scenario_combined_plots_2x4.png"
    assert combined.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    assert combined.read_bytes().startswith(PNG_MAGIC) and combined.stat().st_size > 10_000
    assert "Error generating plots" not in done.stdout + done.stderr  # upstream logs, and exits 0, when it fails
