"""The image-text-to-text task end to end: `genai-bench benchmark` in this process against a real simulator, with what
the simulator received decoded at its side (image sizes, counts, formats, the text part), the token rule both sides
share, the run files' fields, and the one-line errors (bad scenarios, wrong pairings, the missing images extra)."""

import base64
import csv
import io
import json
import sys

import pytest
from click.testing import CliRunner
from PIL import Image

from genai_bench.cli import main
from genai_bench.config import BenchmarkConfig, ConfigError
from genai_bench.images import MISSING_PILLOW, ImagesUnavailable, image_tokens, require_pillow
from genai_bench.report import render_report
from genai_bench.results import load_experiment
from genai_bench.scenarios import ScenarioError, parse_scenario
from genai_bench.tokenizer import builtin_tokenizer


def benchmark(tmp_path, server, *args, requests: int = 4) -> tuple[object, object]:
    """`genai-bench benchmark --task image-text-to-text` against `server`; the CLI result and the experiment folder."""
    result = CliRunner().invoke(main, [
        "benchmark", "--task", "image-text-to-text", "--api-base", server.url, "--num-concurrency", "1",
        "--max-requests-per-run", str(requests), "--experiment-base-dir", str(tmp_path),
        "--experiment-folder-name", "exp", "--seed", "1", *args])
    assert result.exit_code == 0, result.output
    return result, tmp_path / "exp"


def sent_images(body: dict) -> list[Image.Image]:
    """The images of a received chat body, fully decoded (not just their headers)."""
    parts = body["messages"][0]["content"]
    images = []
    for part in parts[1:]:
        assert part["type"] == "image_url"
        header, data = part["image_url"]["url"].split(",", 1)
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        image.load()
        images.append((header, image))
    return images


def test_requests_carry_the_text_then_the_asked_images_and_the_run_file_says_what_was_sent(tmp_path, fast_simulator):
    _, folder = benchmark(tmp_path, fast_simulator, "--traffic-scenario", "I(640,480,3)")
    bodies = list(fast_simulator.app.received)
    tokenizer = builtin_tokenizer()
    pixels = set()
    for body in bodies:
        text = body["messages"][0]["content"][0]
        assert text["type"] == "text" and tokenizer.count(text["text"]) == 100 and body["max_tokens"] == 100
        images = sent_images(body)
        assert len(images) == 3
        for header, image in images:
            assert header == "data:image/jpeg;base64" and image.format == "JPEG" and image.size == (640, 480)
            pixels.add(image.tobytes())
    assert len(pixels) == 3 * len(bodies) == 12  # every image differs, so no server cache can answer one
    [run_file] = folder.glob("I640_480_3_image-text-to-text_*.json")
    run = json.loads(run_file.read_text())
    records = run["individual_request_metrics"]
    sizes = sorted(len(json.dumps(b, separators=(",", ":"))) for b in bodies)
    for record in records:
        # The estimate (text + 3 images under the tile rule) equals what the simulator counted and reported.
        assert record["num_input_tokens"] == 100 + 3 * image_tokens(640, 480) == 100 + 3 * 425
        assert record["num_images"] == 3 and record["image_bytes"] > 3 * 1000
        assert record["request_bytes"] > record["image_bytes"] * 4 / 3  # the images travel as base64
    assert sorted(r["request_bytes"] for r in records) == pytest.approx(sizes, rel=0.01)
    upload = run["aggregated_metrics"]["upload"]
    assert upload["mean_num_images"] == 3
    assert upload["mean_request_bytes"] == pytest.approx(sum(r["request_bytes"] for r in records) / 4)
    assert upload["request_bytes_per_second"] > 0
    metadata = json.loads((folder / "experiment_metadata.json").read_text())
    assert metadata["workload"]["images"] == {"format": "jpeg", "column": None}
    # The CSV report carries the upload beside the run's other figures.
    [row] = list(csv.DictReader(io.StringIO(render_report([load_experiment(folder)], "csv"))))
    assert float(row["mean_num_images"]) == 3
    assert float(row["mean_request_bytes"]) == pytest.approx(upload["mean_request_bytes"])


def test_png_images_and_the_per_image_prefill_time(tmp_path, start_simulator):
    slow_images = start_simulator(ttft_ms=5.0, itl_ms=1.0, image_ms=40.0, seed=1)
    _, folder = benchmark(tmp_path, slow_images, "--traffic-scenario", "I(100,50,2)", "--image-format", "png",
                          requests=2)
    for body in slow_images.app.received:
        assert [(h, i.format, i.size) for h, i in sent_images(body)] == [("data:image/png;base64", "PNG", (100, 50))] * 2
    [run_file] = folder.glob("I100_50_2_*.json")
    ttft = json.loads(run_file.read_text())["aggregated_metrics"]["stats"]["ttft"]
    assert ttft["min"] >= 0.005 + 2 * 0.040  # two images of 40 ms each before the first token


def test_dataset_rows_give_the_text_and_their_images_resized(tmp_path, fast_simulator):
    (tmp_path / "pics").mkdir()
    colours = {"red": (255, 0, 0), "blue": (0, 0, 255)}
    for name, colour in colours.items():
        Image.new("RGB", (300, 200), colour).save(tmp_path / "pics" / f"{name}.png")
    rows = [{"prompt": f"What colour is this {name} picture?", "image": f"pics/{name}.png"} for name in colours]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    benchmark(tmp_path, fast_simulator, "--traffic-scenario", "I(64,32)", "--dataset-path", str(tmp_path / "rows.jsonl"),
              "--dataset-image-column", "image")
    for body in fast_simulator.app.received:
        text = body["messages"][0]["content"][0]["text"]
        [(_, image)] = sent_images(body)
        name = text.split()[-2]
        assert image.size == (64, 32) and text == f"What colour is this {name} picture?"
        red, green, blue = image.convert("RGB").getpixel((32, 16))
        expected = colours[name]
        assert abs(red - expected[0]) < 16 and abs(blue - expected[2]) < 16 and green < 16  # the row's own picture
        assert "max_tokens" not in body  # no reference answer: the server decides the length, as upstream


def test_the_simulator_refuses_image_urls_it_cannot_read(fast_simulator):
    from tests.support.servers import http_json

    body = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}
    status, answer = http_json(fast_simulator.url + "/v1/chat/completions", "POST", body)
    assert status == 400 and "data:image" in answer["error"]["message"]


@pytest.mark.parametrize("width,height,tokens", [
    (512, 512, 255), (1024, 1024, 765), (2048, 4096, 1105), (640, 480, 425), (1, 1, 255), (768, 768, 765)])
def test_the_token_rule_is_the_high_detail_tile_count(width, height, tokens):
    assert image_tokens(width, height) == tokens


@pytest.mark.parametrize("text,reason", [
    ("I(0,512)", "image width and height must be 1 to 8192"),
    ("I(512,512,0)", "the count 1 to 64"),
    ("I(9000,10)", "image width and height must be 1 to 8192"),
    ("I(512)", "expected D(in,out)"),
    ("I(1,2,3,4)", "expected D(in,out)"),
])
def test_bad_image_scenarios_are_one_line_errors(text, reason):
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text)
    assert reason in str(error.value) and "\n" not in str(error.value)


def test_image_scenarios_print_like_upstream():
    assert [parse_scenario(t).text for t in ("I(512,512)", "I(512,512,1)", "I(256,128,4)")] == [
        "I(512,512)", "I(512,512)", "I(256,128,4)"]
    assert parse_scenario("I(256,128,4)").name == "I256_128_4" and parse_scenario("I(512,512)").name == "I512_512"


@pytest.mark.parametrize("settings,message", [
    (dict(traffic_scenarios=["I(512,512)"]), "--traffic-scenario I(512,512) is for --task image-text-to-text"),
    (dict(task="image-text-to-text", traffic_scenarios=["I(512,512)", "D(10,10)"]),
     "--traffic-scenario D(10,10) is for --task text-to-text"),
    (dict(task="image-text-to-text", traffic_scenarios=["I(512,512)"], endpoint="completions"), "--endpoint chat"),
    (dict(task="image-text-to-text", traffic_scenarios=["I(512,512)"], turns=3), "drop --multi-turn/--turns"),
])
def test_images_and_their_task_go_together(settings, message):
    settings["traffic_scenarios"] = [parse_scenario(t) for t in settings["traffic_scenarios"]]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        BenchmarkConfig(**settings).validate()


def test_without_pillow_the_task_is_refused_in_one_line_naming_the_extra(monkeypatch, tmp_path):
    # A None entry in sys.modules makes `import PIL` fail as if Pillow were not installed.
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImagesUnavailable, match="genai-bench\\[images\\]"):
        require_pillow()
    result = CliRunner().invoke(main, ["benchmark", "--task", "image-text-to-text", "--experiment-base-dir",
                                       str(tmp_path)])
    assert result.exit_code == 2 and result.output.strip() == f"Error: {MISSING_PILLOW}"
    assert not (tmp_path / "exp").exists()


def test_workers_send_images_and_their_records_cross_the_wire(tmp_path, start_simulator, run_cli):
    server = start_simulator(ttft_ms=1.0, itl_ms=0.0)
    result = run_cli("benchmark", "--task", "image-text-to-text", "--api-base", server.url, "--num-workers", "2",
                     "--num-concurrency", "2", "--max-requests-per-run", "6", "--traffic-scenario", "I(320,240,2)",
                     "--image-format", "png", "--experiment-folder-name", "exp", "--seed", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(server.app.received) == 6
    for body in server.app.received:
        assert [(i.format, i.size) for _, i in sent_images(body)] == [("PNG", (320, 240))] * 2
    [run_file] = (tmp_path / "experiments" / "exp").glob("I320_240_2_*.json")
    records = json.loads(run_file.read_text())["individual_request_metrics"]
    assert len(records) == 6 and all(r["num_images"] == 2 and r["request_bytes"] > r["image_bytes"] > 0
                                     for r in records)
