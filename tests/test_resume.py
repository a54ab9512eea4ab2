"""Damaged caches and killed runs: redone or reported, never assembled short, and frames identical after resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, SNAKEMAKE, TINY_FRAMES, chunk_layout_of, make_workdir, rules_run, run_snakemake, tiny_config
from stylepipe.errors import StylepipeError
from stylepipe.frames import DamagedCacheError, atomic_dir, check_folder, write_rgb
from stylepipe.jobs.media import assemble_job
from stylepipe.video import probe


def resume_config(inputs: dict[str, Path]) -> dict:
    """Gatys with the temporal terms on, so chunk k reads chunk k-1: what a resume must reproduce exactly."""
    config = tiny_config(inputs, chunk_frames=2)
    config["gatys"] = {"iterations": 40, "first_iterations": 40, "scale_iterations": [20, 20]}
    return config


def frame_bytes(workdir: Path) -> dict[str, bytes]:
    results = workdir / "results/out"
    return {str(p.relative_to(results)): p.read_bytes() for p in sorted(results.glob("stylized/chunk_*/*.png"))}


@pytest.fixture(scope="module")
def reference(tiny_inputs, tmp_path_factory) -> Path:
    """An uninterrupted run, to compare resumed runs with."""
    workdir = make_workdir(tmp_path_factory.mktemp("reference"), resume_config(tiny_inputs))
    result = run_snakemake(workdir, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_atomic_dir_writes_a_manifest_and_clears_killed_jobs_scratch(tmp_path):
    final = tmp_path / "chunk_0000"
    leftover = tmp_path / ".chunk_0000.tmp-dead0001"
    leftover.mkdir()
    (leftover / "000000.png").write_bytes(b"half a frame")
    with atomic_dir(final) as scratch:
        write_rgb(scratch / "000000.png", __import__("numpy").zeros((4, 4, 3), "uint8"))
    assert not leftover.exists()
    check_folder(final)
    (final / "000000.png").write_bytes((final / "000000.png").read_bytes()[:-1] + b"\x00")
    check_folder(final, contents=False)  # same size: only the contents check sees it
    with pytest.raises(DamagedCacheError, match="000000.png has changed"):
        check_folder(final)


def test_assemble_refuses_fewer_frames_than_the_source(reference, tmp_path):
    chunks = sorted(str(p) for p in (reference / "results/out/stylized").glob("chunk_*"))
    with pytest.raises(StylepipeError, match="hold 6 frames but .* has 8; not writing a short video"):
        assemble_job(chunks[:-1], chunk_layout_of(reference)[:-1], str(reference / "results/out/meta.json"), str(tiny_inputs_content(reference)),
                     str(tmp_path / "short.mp4"), crf=18, codec="h264", audio="copy")
    assert not (tmp_path / "short.mp4").exists()


def tiny_inputs_content(workdir: Path) -> str:
    import yaml

    return yaml.safe_load((workdir / "config.yaml").read_text())["content"]


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_a_damaged_cached_frame_is_set_aside_and_redone(reference, tmp_path, damage):
    workdir = tmp_path / "work"
    subprocess.run(["cp", "-a", str(reference), str(workdir)], check=True)
    (workdir / "results/out.mp4").unlink()
    frame = workdir / "results/out/stylized/chunk_0002/000005.png"
    if damage == "delete":
        frame.unlink()
    else:
        frame.write_bytes(frame.read_bytes()[:300])
    result = run_snakemake(workdir, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stylepipe: results/out/stylized/chunk_0002: 000005.png" in result.stderr
    ran = rules_run(result.stdout + result.stderr)
    # chunk 2 and the chunk after it (which reads it) are redone; chunks 0 and 1 are not.
    assert ran.get("stylize_gatys") == 2 and ran.get("assemble") == 1
    assert probe(workdir / "results/out.mp4").frame_count == TINY_FRAMES
    assert frame_bytes(workdir) == frame_bytes(reference)


def test_a_changed_frame_of_the_same_size_stops_the_consumer_and_is_redone_next_run(reference, tmp_path):
    workdir = tmp_path / "work"
    subprocess.run(["cp", "-a", str(reference), str(workdir)], check=True)
    (workdir / "results/out.mp4").unlink()
    frame = workdir / "results/out/stable/chunk_0001/000003.jpg" if (workdir / "results/out/stable").exists() else \
        workdir / "results/out/stylized/chunk_0001/000003.png"
    data = bytearray(frame.read_bytes())
    data[-20] ^= 0xFF
    frame.write_bytes(bytes(data))
    first = run_snakemake(workdir, "results/out.mp4")
    assert first.returncode != 0
    assert f"{frame.name} has changed since it was written; set aside" in first.stderr
    assert not (workdir / "results/out.mp4").exists()
    second = run_snakemake(workdir, "results/out.mp4")
    assert second.returncode == 0, second.stderr[-3000:]
    assert probe(workdir / "results/out.mp4").frame_count == TINY_FRAMES
    assert frame_bytes(workdir) == frame_bytes(reference)


def _job_pids(workdir: Path, script: str) -> list[int]:
    """Python processes running the job `script` for the workflow in `workdir`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if any(arg.endswith(f".{script}.py".encode()) for arg in argv) and Path(cwd) == workdir and b"bash" not in argv[0]:
            pids.append(int(entry.name))
    return pids


def _start_and_wait_for_chunk(workdir: Path, chunk: str) -> tuple[subprocess.Popen, list[int]]:
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", "results/out.mp4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = workdir / f"results/out/logs/stylize_{chunk}.log"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and "loss network" in log.read_text():
            pids = _job_pids(workdir, "stylize_gatys")
            if pids:
                return proc, pids
        time.sleep(0.05)
    raise AssertionError("the stylise job never started")


def test_a_job_that_gets_cuda_runs_reproducible_kernels():
    """Identical frames after a resume need deterministic kernels on CUDA; checked here on any machine, in a fresh
    process as a job is, by letting resolve_device believe a GPU is there."""
    code = (
        "import os, torch\n"
        "torch.cuda.is_available = lambda: True\n"
        "from stylepipe.jobs.common import resolve_device\n"
        "assert torch.are_deterministic_algorithms_enabled() is False\n"
        "print(resolve_device('auto'), torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,\n"
        "      torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),\n"
        "      torch.utils.deterministic.fill_uninitialized_memory, os.environ['CUBLAS_WORKSPACE_CONFIG'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["cuda", "True", "False", "True", "True", "False", ":4096:8"]


def test_sigkill_of_a_job_then_rerun_gives_identical_frames(reference, tiny_inputs, tmp_path):
    workdir = make_workdir(tmp_path, resume_config(tiny_inputs))
    proc, pids = _start_and_wait_for_chunk(workdir, "0001")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert not (workdir / "results/out/stylized/chunk_0001").exists()
    result = run_snakemake(workdir, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert rules_run(result.stdout + result.stderr).get("stylize_gatys") == 3
    assert frame_bytes(workdir) == frame_bytes(reference)


def test_sigkill_of_snakemake_stops_its_job_and_unlock_then_rerun_gives_identical_frames(reference, tiny_inputs, tmp_path):
    workdir = make_workdir(tmp_path, resume_config(tiny_inputs))
    proc, pids = _start_and_wait_for_chunk(workdir, "0001")
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _job_pids(workdir, "stylize_gatys") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _job_pids(workdir, "stylize_gatys"), "the job ran on after Snakemake was killed"
    assert "has gone; this job stops too" in (workdir / "results/out/logs/stylize_0001.log").read_text()
    # The README's recipe after kill -9: unlock, then the same command.
    assert run_snakemake(workdir, "--unlock").returncode == 0
    result = run_snakemake(workdir, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert frame_bytes(workdir) == frame_bytes(reference)
    assert not list((workdir / "results/out/stylized").glob(".chunk_*.tmp-*")), "killed scratch folders are cleared"


def test_cached_weights_are_readable_like_any_output(reference):
    umask = os.umask(0)
    os.umask(umask)
    weights = reference / "resources/lossnet/random.safetensors"
    assert weights.stat().st_mode & 0o777 == 0o666 & ~umask
