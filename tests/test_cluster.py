"""The SLURM profile on a real one-node SLURM: `make test-cluster` (root, slurm-wlm and munge; see tests/slurm_node.py).

Skipped by `make test`; it brings daemons up and down and waits on SLURM's polling, about two minutes.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SNAKEMAKE, make_workdir, run_snakemake, tiny_config
from slurm_node import ClusterUnavailable, daemon_alive, missing_requirements, one_node_slurm
from videotools import read_all_frames

from stylepipe.frames import list_frames, read_rgb

pytestmark = pytest.mark.cluster


def _frames(workdir: Path) -> dict[str, np.ndarray]:
    return {f"{chunk.name}/{path.name}": read_rgb(path)
            for chunk in sorted((workdir / "results/out/stylized").glob("chunk_*")) for path in list_frames(chunk)}


def test_slurm_profile_renders_what_a_local_run_renders(tiny_inputs, tmp_path):
    if missing_requirements():
        raise ClusterUnavailable(f"missing: {', '.join(missing_requirements())}; run `make test-cluster`, which installs them")
    # device auto: the stylise jobs ask SLURM for a GPU (the node's fake ones) and, finding no CUDA, use the CPU.
    config = tiny_config(tiny_inputs, device="auto")
    local = make_workdir(tmp_path / "local", config)
    result = run_snakemake(local, "results/out.mp4")
    assert result.returncode == 0, result.stderr[-3000:]

    cluster = make_workdir(tmp_path / "cluster", config)
    with one_node_slurm(tmp_path / "slurm") as env:
        command = [
            SNAKEMAKE, "results/out.mp4", "--snakefile", str(REPO / "Snakefile"), "--directory", str(cluster),
            "--profile", str(REPO / "profiles/slurm"),
            # No slurmdbd here: poll squeue, not sacct (which would hang), and start polling after a second.
            "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
        ]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        # Finished jobs stay listed (MinJobAge): one line of KEY=VALUE fields per job.
        listing = subprocess.run(["scontrol", "show", "job", "-o"], env=env, capture_output=True, text=True).stdout
        daemons = [int(entry.split(":")[1]) for entry in env["STYLEPIPE_TEST_DAEMONS"].split()]
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:] + "\n".join(
        p.read_text()[-1500:] for p in (cluster / ".snakemake/slurm_logs").rglob("*.log"))
    assert not any(daemon_alive(pid) for pid in daemons), "a daemon this test started is still running"

    # Every job went through SLURM; the stylise jobs asked for a GPU, and each rule for the profile's memory and time.
    jobs = [dict(re.findall(r"(\S+?)=(\S*)", line)) for line in listing.splitlines() if line.strip()]
    assert len(jobs) >= 10 and all(job["JobState"] == "COMPLETED" for job in jobs), listing
    stylize = [job for job in jobs if job["Comment"].startswith("rule_stylize_gatys")]
    assert len(stylize) == 2, listing
    for job in stylize:
        assert job["TresPerJob"] == "gres:gpu:1" and job["TimeLimit"] == "04:00:00" and job["MinMemoryNode"] == "8000M", job
        assert job["CPUs/Task"] == "2", job
    assert not any("gpu" in job.get("TresPerJob", "") for job in jobs if job not in stylize)
    assert "device cpu" in (cluster / "results/out/logs/stylize_0000.log").read_text()

    local_frames, cluster_frames = _frames(local), _frames(cluster)
    assert local_frames.keys() == cluster_frames.keys() and len(local_frames) == 8
    for name, frame in local_frames.items():
        assert np.array_equal(frame, cluster_frames[name]), f"{name} differs between the local and the SLURM run"
    height, width = next(iter(local_frames.values())).shape[:2]
    size = (width, height)
    assert np.array_equal(read_all_frames(local / "results/out.mp4", size), read_all_frames(cluster / "results/out.mp4", size))
