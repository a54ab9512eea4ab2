"""The report (`snakemake --report`), each output's page, the preview before a render, and `stylepipe status`."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, SNAKEMAKE, TINY_FRAMES, chunk_layout_of, interruptible, job_counts, make_workdir, rules_run, run_snakemake, tiny_config
from stylepipe.cli import main as stylepipe_main
from stylepipe.disk import human_bytes
from stylepipe.figures import contact_sheet, line_plot_svg, moments
from stylepipe.frames import frame_in, list_frames, read_rgb
from stylepipe.jobs.report_page import report_page_job
from stylepipe.status import output_status
from videotools import probe


def small_config(inputs: dict[str, Path], **overrides) -> dict:
    config = tiny_config(inputs, **{"chunk_frames": 4, "style": str(inputs["style_rgba"]), **overrides})
    config.pop("variants")
    return config


@pytest.fixture(scope="module")
def rendered(tiny_inputs, tmp_path_factory) -> Path:
    """The default target (no target given): the video and its report page."""
    workdir = make_workdir(tmp_path_factory.mktemp("report"), small_config(tiny_inputs))
    result = run_snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def embedded(html: str, element_id: str, attribute: str = "src") -> tuple[str, bytes]:
    match = re.search(rf'id="{element_id}"[^>]*?{attribute}="data:([^;]+);base64,([^"]+)"', html)
    assert match, f"no embedded {element_id}"
    return match.group(1), base64.b64decode(match.group(2))


def test_the_page_embeds_the_video_the_contact_sheet_and_the_plots(rendered):
    page = (rendered / "results/out/report/overview.html").read_text()
    mime, video = embedded(page, "video")
    assert mime == "video/mp4" and video == (rendered / "results/out.mp4").read_bytes()
    mime, sheet_bytes = embedded(page, "contact-sheet")
    assert mime == "image/jpeg"
    assert sheet_bytes == (rendered / "results/out/report/contact_sheet.jpg").read_bytes()
    # One plot line per series, each with a point per frame after the first.
    lines = re.findall(r'<polyline class="series" points="([^"]+)"', page)
    assert len(lines) >= 2 and all(len(points.split()) == TINY_FRAMES - 1 for points in lines[:2])
    assert "Warping error per frame" in page and "VGG content distance per frame" in page  # Gatys mode measures fidelity
    # The content's structure per frame, beside the flicker: a picture fading into texture shows on the page.
    structure = json.loads((rendered / "results/out/metrics.json").read_text())["structure"]
    assert "Structure kept per frame" in page and len(structure["per_frame"]) == TINY_FRAMES
    assert all(-1 <= value <= 1 for value in structure["per_frame"]) and structure["min"] <= structure["mean"]
    assert "stylise, seconds per frame" in page and "style_weight: 10000.0" in page
    assert "Warping error per frame" in (rendered / "results/out/report/per_frame.svg").read_text()


def test_the_contact_sheet_shows_content_style_and_output_at_three_moments(rendered):
    sheet = np.asarray(Image.open(rendered / "results/out/report/contact_sheet.jpg").convert("RGB")).astype(float)
    frames = moments(TINY_FRAMES)
    assert len(frames) == 3
    out_chunks = sorted((rendered / "results/out/stylized").glob("chunk_*"))
    content_chunks = sorted((rendered / "results/out/frames/content").glob("chunk_*"))
    cell_h = (sheet.shape[0] - 22) // 3
    cell_w = (sheet.shape[1] - 110) // 3
    for row, frame in enumerate(frames):
        top = 22 + row * cell_h
        for column, folders in ((0, content_chunks), (2, out_chunks)):
            expected = read_rgb(next(frame_in(f, frame) for f in folders if frame_in(f, frame).is_file()))
            cell = sheet[top + 6 : top + cell_h - 6, 110 + column * cell_w + 6 : 110 + (column + 1) * cell_w - 6]
            # The cell is the frame scaled up: its mean colour matches the frame's.
            assert np.abs(cell.reshape(-1, 3).mean(0) - expected.reshape(-1, 3).mean(0)).max() < 12


def test_snakemake_report_is_one_file_holding_every_page(rendered):
    result = run_snakemake(rendered, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (rendered / "results/report.html").read_text()
    for name in ("overview.html", "contact_sheet.jpg", "per_frame.svg"):
        assert f'"results/out/report/{name}": {{' in html
    # The page inside the report is the page on disk, byte for byte.
    uri = re.search(r'"results/out/report/overview.html": \{.*?"data_uri": "data:text/html;charset=utf8;filename=overview.html;base64,([^"]+)"', html, re.S)
    assert uri and base64.b64decode(uri.group(1)) == (rendered / "results/out/report/overview.html").read_bytes()
    assert "Open <strong>Outputs</strong>" in html or "Outputs" in html


@pytest.mark.skipif(not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")), reason="needs headless Chromium")
def test_a_screenshot_of_the_report_shows_the_page(rendered, tmp_path):
    if not (rendered / "results/report.html").is_file():
        assert run_snakemake(rendered, "--report", "results/report.html").returncode == 0
    shot = tmp_path / "shot.png"
    assert stylepipe_main(["report-screenshot", str(rendered / "results/report.html"), str(shot), "--width", "1200", "--height", "1400"]) == 0
    image = np.asarray(Image.open(shot).convert("RGB"))
    # The page fills the right of the window: not the report's blank start view.
    assert image[200:900, 700:1100].std() > 20


def test_a_video_too_large_to_embed_gets_an_animated_preview(rendered, tmp_path, monkeypatch):
    import stylepipe.jobs.report_page as report_page

    monkeypatch.setattr(report_page, "MAX_EMBEDDED_VIDEO_BYTES", 0)
    out = rendered / "results/out"
    config = {"content": "c.mp4", "style": "s.png", "mode": "gatys", "feedforward": {"arch": "arbitrary"}, "encode": {"audio": "copy"}}
    report_page_job("out", str(rendered / "results/out.mp4"), str(out / "meta.json"), str(out / "frames/content"), str(out / "frames/style"),
                    str(out / "style_index.json"), [str(c) for c in sorted((out / "stylized").glob("chunk_*"))], chunk_layout_of(rendered),
                    str(out / "metrics.json"),
                    config, str(tmp_path / "page.html"), str(tmp_path / "sheet.jpg"), str(tmp_path / "plots.svg"))
    page = (tmp_path / "page.html").read_text()
    assert "<video" not in page
    mime, data = embedded(page, "animated-preview")
    preview = Image.open(io.BytesIO(data))
    assert mime == "image/png" and getattr(preview, "n_frames", 1) == TINY_FRAMES


def test_the_preview_stylizes_three_frames_without_the_render(tiny_inputs, tmp_path, monkeypatch, capsys):
    workdir = make_workdir(tmp_path, small_config(tiny_inputs))
    dry = run_snakemake(workdir, "-n", "results/out/preview.png")
    assert dry.returncode == 0, dry.stderr[-3000:]
    planned = job_counts(dry.stdout + dry.stderr)
    assert planned.get("preview") == 1 and not {"stylize_gatys", "stylize_feedforward", "flow", "assemble"} & set(planned)
    result = run_snakemake(workdir, "results/out/preview.png")
    assert result.returncode == 0, result.stderr[-3000:]
    ran = set(rules_run(result.stderr))
    assert "preview" in ran and ran <= {"probe", "content_frames", "style_frames", "loss_network_weights", "preview"}, ran
    assert not (workdir / "results/out/stylized").exists() and not (workdir / "results/out.mp4").exists()
    sheet = np.asarray(Image.open(workdir / "results/out/preview.png").convert("RGB")).astype(float)
    log = (workdir / "results/out/logs/preview.log").read_text()
    assert log.count("preview frame") == 3 and "frames 1, 4, 6 of 8" in log
    top, bottom = sheet[22:22 + (sheet.shape[0] - 22) // 2], sheet[22 + (sheet.shape[0] - 22) // 2:]
    assert np.abs(top[:, 110:] - bottom[: top.shape[0], 110:]).mean() > 10  # the previews are not the content frames
    # `stylepipe preview` asks Snakemake for the same file, so nothing is redone.
    monkeypatch.chdir(workdir)
    assert stylepipe_main(["preview", "out", "--snakefile", str(REPO / "Snakefile"), "--cores", "2"]) == 0
    assert capsys.readouterr().out.startswith("results/out/preview.png is up to date (results/out/preview.png: frames 1, 4, 6 of 8")
    # The full render afterwards reuses the frames the preview extracted.
    render = run_snakemake(workdir, "results/out.mp4")
    assert render.returncode == 0 and "content_frames" not in rules_run(render.stderr)


def test_stylepipe_status_rises_during_a_run_and_says_stopped_after_ctrl_c(tiny_inputs, tmp_path, capsys):
    config = small_config(tiny_inputs)
    config["gatys"].update({"iterations": 150, "scale_iterations": [50, 50]})  # slow enough to watch
    workdir = make_workdir(tmp_path, config)
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", "results/out.mp4"]
    # Its own process group, so that Ctrl-C reaches Snakemake and its jobs as a terminal's would.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=interruptible)
    results = workdir / "results"
    seen: list[int] = []
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        status = output_status(results, "out")
        if status.state == "running" and status.stylized and status.stylized not in seen:
            assert status.eta_seconds is not None and status.seconds_per_frame > 0
            seen.append(status.stylized)
        if len(seen) >= 2 and seen[-1] == 5:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the run finished before it could be interrupted; make it slower"
    assert seen == sorted(seen) and len(seen) >= 2, seen
    assert stylepipe_main(["status", "--results", str(results)]) == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r"out: \d/8 frames stylised \(\d+%\), [0-9.]+ s a frame, ETA 0:\d\d:\d\d; running \(chunk 0001 at \d/4\); "
                        r"cache [0-9.]+ [KM]B, [0-9.]+ [KM]B a frame", line), line
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=120)
    stopped = output_status(results, "out")
    finished = sum(len(list_frames(c)) for c in (results / "out/stylized").glob("chunk_*"))
    assert stopped.state == "stopped" and stopped.stylized == finished == 4, (stopped, finished)
    assert stylepipe_main(["status", "results/out.mp4", "--results", str(results)]) == 0
    assert capsys.readouterr().out.startswith("out: 4/8 frames stylised (50%)")


def test_status_of_a_finished_output_and_of_nothing(rendered, tmp_path, capsys):
    assert stylepipe_main(["status", "--results", str(rendered / "results")]) == 0
    cached = sum(path.stat().st_size for path in (rendered / "results/out").rglob("*") if path.is_file())
    assert capsys.readouterr().out.strip() == f"out: done, results/out.mp4 ({TINY_FRAMES} frames, " + \
        f"{json.loads((rendered / 'results/out/metrics.json').read_text())['stylize']['seconds_per_frame']:.3f} s a frame); " + \
        f"cache {human_bytes(cached)}, {human_bytes(cached / TINY_FRAMES)} a frame"
    assert stylepipe_main(["status", "--results", str(tmp_path / "none")]) == 2
    assert "no output has started here" in capsys.readouterr().err


def test_figures_keep_their_shapes():
    assert moments(100) == [10, 50, 89] and moments(1) == [0] and moments(2) == [0, 1]
    sheet = contact_sheet([("a", [np.zeros((9, 16, 3), np.uint8)] * 2)], ["x", "y"], cell_height=90)
    assert sheet.shape == (22 + 90, 110 + 2 * 160, 3)
    svg = line_plot_svg("t", {"s": [None, 1.0, 2.0, float("nan"), 3.0]}, "y")
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1  # a gap splits the line; a lone point is a dot


def test_the_report_video_matches_the_source_timing(rendered, tiny_inputs):
    assert probe(rendered / "results/out.mp4").frame_count == probe(tiny_inputs["content"]).frame_count
