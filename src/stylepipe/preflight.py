"""The input checks that run while the DAG is built, before any job. Nothing here imports torch."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stylepipe.errors import StylepipeError
from stylepipe.frames import read_rgb
from stylepipe.settings import LOSS_NETWORK_SOURCES, GatysSettings
from stylepipe.style import parse_style_sources
from stylepipe.video import check_video

TRAINED_ARCHS = ("finetuned", "johnson")


def trains_per_style(cfg: dict[str, Any]) -> bool:
    """Whether this config's feed-forward network is one trained for one style (finetuned or johnson, or a given model)."""
    block = cfg["feedforward"]
    return cfg["mode"] == "feedforward" and (block["arch"] in TRAINED_ARCHS or bool(block["model"]))


def uses_arbitrary_network(cfg: dict[str, Any]) -> bool:
    return cfg["mode"] == "feedforward" and not trains_per_style(cfg)


def uses_loss_network(cfg: dict[str, Any]) -> bool:
    """Gatys mode and per-style training need VGG; the pretrained arbitrary-style network does not."""
    return cfg["mode"] == "gatys" or (trains_per_style(cfg) and not cfg["feedforward"]["model"])


def preflight(cfg: dict[str, Any], generated: Sequence[str] = ()) -> None:
    """Check a validated config's inputs before any job runs; files a rule will generate are skipped."""

    def check(key: str, path: str, read: Callable[[str], object]) -> None:
        if path in generated:
            return
        try:
            read(path)
        except StylepipeError as err:
            raise StylepipeError(f"config key '{key}': {err}") from None

    GatysSettings.from_config(cfg["gatys"])  # scales and their iterations must agree
    check("content", cfg["content"], check_video)
    if cfg["device"] == "cuda":
        check_cuda()
    if trains_per_style(cfg) and cfg["feedforward"]["model"]:
        # The style lives in the trained model: `style` and the loss network are not used.
        check("feedforward.model", cfg["feedforward"]["model"], check_model_header)
        return
    sources = parse_style_sources(cfg["style"])
    if trains_per_style(cfg) and (len(sources) != 1 or not sources[0].is_image):
        raise StylepipeError(
            f"config key 'style': feedforward.arch {cfg['feedforward']['arch']} trains a network for one style image; "
            "for a style video or a blend of styles use feedforward.arch: arbitrary, or mode: gatys"
        )
    for source in sources:
        check("style", source.path, read_rgb if source.is_image else check_video)
    if trains_per_style(cfg):
        for video in cfg["feedforward"]["train"]["videos"]:
            check("feedforward.train.videos", video, existing_path)
    weights = cfg["loss_network"]["weights"]
    if uses_loss_network(cfg) and weights not in LOSS_NETWORK_SOURCES:
        check("loss_network.weights", weights, existing_path)


def existing_path(path: str) -> None:
    if not Path(path).exists():
        raise StylepipeError(f"{path}: file or folder not found")


def check_model_header(path: str) -> None:
    """A feed-forward model file exists and, for safetensors, has a readable header (the job reads the tensors)."""
    if not Path(path).is_file():
        raise StylepipeError(f"{path}: model file not found; leave feedforward.model empty to train one")
    if Path(path).suffix != ".safetensors":
        return
    from safetensors import safe_open

    try:
        with safe_open(path, framework="numpy") as handle:
            header = json.loads((handle.metadata() or {}).get("stylepipe", "{}"))
    except Exception as exc:  # noqa: BLE001 - corrupt files of any kind end as one clear line
        raise StylepipeError(f"{path}: cannot read model ({type(exc).__name__}: {str(exc)[:160]})") from None
    if not isinstance(header, dict):
        raise StylepipeError(f"{path}: the model's stylepipe header is a JSON {type(header).__name__}, not an object")
    arch = header.get("arch")
    if arch is not None and arch not in TRAINED_ARCHS:
        raise StylepipeError(f"{path}: the model's header names arch {arch!r}, which is not one of {', '.join(TRAINED_ARCHS)}")


def check_cuda() -> None:
    """`device: cuda` on a machine without a usable CUDA driver stops here, before any job, without importing torch."""
    problem = _cuda_problem()
    if problem:
        raise StylepipeError(f"config key 'device': cuda was asked for but {problem}; use auto or cpu")


def _cuda_problem() -> str | None:
    name = ctypes.util.find_library("cuda") or "libcuda.so.1"
    try:
        driver = ctypes.CDLL(name)
    except OSError:
        return "no CUDA driver (libcuda) is installed"
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0:
        return "the CUDA driver does not start (cuInit failed)"
    if driver.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return "the CUDA driver sees no GPU"
    return None


# Below this much free space not even Snakemake's lock and metadata files fit, and it fails with pages of logging
# errors; stop before it tries, with one line.
MIN_FREE_BYTES = 16 << 20


def check_free_space(folder: str | Path = ".", needed: int = MIN_FREE_BYTES) -> None:
    """One line when the disk holding `folder` has less than `needed` bytes free."""
    import shutil

    free = shutil.disk_usage(folder).free
    if free < needed:
        raise StylepipeError(f"{Path(folder).resolve()}: no space left on device ({free >> 20} MiB free, at least "
                             f"{needed >> 20} MiB needed to start); free some and give the same command again")
