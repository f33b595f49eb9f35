"""The pages at a phone's size (390x844, touch): the live page while a benchmark runs, the results view of
`genai-bench serve` and the HTML report opened from disk. None scrolls sideways; KPIs and charts are on screen;
tables scroll inside their own box; charts put their legend below and thin out their ticks; touch targets are 44 px."""

from __future__ import annotations

import pytest

from genai_bench.report import write_report
from genai_bench.results import load_experiment
from tests.support.processes import serve_experiments
from tests.web.test_dashboard_page import KPI_IDS, LONG_RUN, kpi_texts

pytestmark = pytest.mark.slow

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
READY = "document.getElementById('results-root').dataset.ready === 'true'"
# Every on-screen control a finger uses, and the rows that open a run's details.
TOUCH_TARGETS = ".view-tab, .rv-button, .rv-sort, .rv select, #rv-rows tr"


@pytest.fixture
def phone(browser):
    """A fresh page in a phone-sized, touch context; JavaScript errors on it fail the test."""
    context = browser.new_context(**PHONE, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def within_screen(page, selector: str, min_size: int = 100) -> None:
    """Every visible element matching `selector` lies inside the screen's width, at least `min_size` px each way."""
    boxes = page.evaluate("""s => [...document.querySelectorAll(s)].filter(e => e.offsetParent !== null)
        .map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.width, r.height]; })""", selector)
    assert boxes, selector
    for left, right, width, height in boxes:
        assert left >= 0 and right <= 390 and width >= min_size and height >= min_size, (selector, left, right, width, height)


def check_results_view(page) -> None:
    """The results view (served or the report) fits a phone and stays usable by touch."""
    page.wait_for_function(READY, timeout=15_000)
    assert no_sideways_scroll(page)
    within_screen(page, ".rv-chart canvas")
    # Chart.js charts at this width: legend below, a handful of x ticks.
    shapes = page.evaluate("""() => [...document.querySelectorAll('.rv-chart canvas')].map(c => Chart.getChart(c))
        .filter(Boolean).map(ch => [ch.options.plugins.legend.position, ch.scales.x.ticks.length])""")
    assert shapes and all(position == "bottom" and ticks <= 6 for position, ticks in shapes), shapes
    # The runs table is wider than the screen and scrolls inside its own box.
    scroll = page.evaluate("""() => { const box = document.querySelector('#rv-table').closest('.table-scroll');
        return [box.scrollWidth, box.clientWidth, getComputedStyle(box).overflowX]; }""")
    assert scroll[0] > scroll[1] and scroll[2] == "auto", scroll
    heights = page.evaluate("""s => [...document.querySelectorAll(s)].filter(e => e.offsetParent !== null)
        .map(e => [e.className || e.tagName, e.getBoundingClientRect().height])""", TOUCH_TARGETS)
    assert heights and all(height >= 44 for _, height in heights), [h for h in heights if h[1] < 44]
    # Tapping a run opens its details, which fit too.
    page.locator("#rv-rows tr").first.tap()
    page.wait_for_selector("#rv-drill[data-loaded=true]", timeout=10_000)
    within_screen(page, "#rv-drill canvas")
    assert no_sideways_scroll(page)


def test_results_view_fits_a_phone(child_processes, finished_experiment, phone):
    served = serve_experiments([finished_experiment], child_processes)
    phone.goto(served.url)
    check_results_view(phone)


def test_html_report_fits_a_phone(finished_experiment, tmp_path, phone):
    report = write_report(load_experiment(finished_experiment), "html", tmp_path / "report.html")
    phone.goto(report.as_uri())
    check_results_view(phone)


def test_live_page_fits_a_phone_and_updates(start_benchmark, phone):
    bench = start_benchmark(*LONG_RUN)
    phone.goto(bench.url)
    phone.wait_for_function("window.genaiDashboard && window.genaiDashboard.seriesLength() >= 3", timeout=30_000)
    phone.wait_for_function("document.querySelector('#kpi-rps .kpi-value').textContent !== '—'")
    first = kpi_texts(phone)
    for kpi in ("kpi-ttft-p50", "kpi-rps", "kpi-e2e-p50"):
        assert phone.locator(f"#{kpi}").is_visible() and any(ch.isdigit() for ch in first[kpi]), first
    within_screen(phone, "#kpi-ttft-p50, #kpi-rps", min_size=44)
    within_screen(phone, ".charts .chart-box canvas")
    assert no_sideways_scroll(phone)
    phone.wait_for_function("([ids, before]) => ids.some(id => "
                            "document.querySelector('#' + id + ' .kpi-value').textContent !== before[id])",
                            arg=[list(KPI_IDS), first], timeout=15_000)
    assert no_sideways_scroll(phone)
