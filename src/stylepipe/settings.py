"""The settings the workflow needs while it builds the DAG. Nothing here imports torch, so parsing the
Snakefile (every dry run, no-op rerun and cluster job) stays fast."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from stylepipe.errors import StylepipeError

# The workflow's config schema: its defaults are the only ones, here as for a run (the project is installed from
# its folder, `pip install -e`, as the Makefile does).
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


@functools.cache
def schema_defaults(*block: str) -> dict[str, Any]:
    """The defaults the config schema gives the keys of `block` (e.g. "gatys"; "feedforward", "train")."""
    try:
        node = yaml.safe_load(SCHEMA_PATH.read_text())
    except OSError as err:
        raise StylepipeError(f"{SCHEMA_PATH}: cannot read the config schema ({err.strerror}); install stylepipe from its "
                             "folder with `pip install -e .`") from None
    for name in block:
        node = node["properties"][name]
    return {key: tuple(sub["default"]) if isinstance(sub.get("default"), list) else sub["default"]
            for key, sub in node["properties"].items() if "default" in sub}


_GATYS = schema_defaults("gatys")
_TRAIN = schema_defaults("feedforward", "train")

# Named loss-network weight sources (see stylepipe.lossnet); anything else is a file path.
LOSS_NETWORK_SOURCES = ("auto", "imagenet-vgg19", "hed-vgg16", "random")


# The shortest side, in pixels, of a coarse scale of a shot's first frame (`GatysSettings.first_frame_schedule`).
MIN_COARSE_SIDE = 48


@dataclass(frozen=True)
class GatysSettings:
    """The `gatys:` block of the config; its defaults are the schema's."""

    iterations: int = _GATYS["iterations"]
    first_iterations: int = _GATYS["first_iterations"]
    optimizer: str = _GATYS["optimizer"]
    content_weight: float = _GATYS["content_weight"]
    style_weight: float = _GATYS["style_weight"]
    tv_weight: float = _GATYS["tv_weight"]
    init: str = _GATYS["init"]
    preserve_colors: bool = _GATYS["preserve_colors"]
    learning_rate: float = _GATYS["learning_rate"]
    seed: int = _GATYS["seed"]
    temporal_weight: float = _GATYS["temporal_weight"]
    long_term: tuple[int, ...] = _GATYS["long_term"]
    scales: tuple[float, ...] = _GATYS["scales"]
    scale_iterations: tuple[int, ...] = _GATYS["scale_iterations"]
    style_scale: float = _GATYS["style_scale"]
    restart_below: float = _GATYS["restart_below"]
    warp: str = _GATYS["warp"]
    uncovered_start: str = _GATYS["uncovered_start"]
    segment_frames: int = _GATYS["segment_frames"]
    segment_overlap: int = _GATYS["segment_overlap"]

    def first_frame_schedule(self, size: tuple[int, int] | None = None) -> tuple[tuple[float, int], ...]:
        """(scale, iterations) for the first frame of a shot: coarse to fine, ending at full size.

        For a frame of `size` (width, height), a scale whose shorter side would fall below MIN_COARSE_SIDE is skipped and
        its iterations are spent at the next scale: VGG sees nothing of so small a picture, and what the coarse scale
        painted there buried the content (edge correlation 0.15 against 0.67 at 64x48).
        """
        if len(self.scales) == 1:
            return ((1.0, self.first_iterations),)
        iterations = self.scale_iterations or (self.first_iterations,) * len(self.scales)
        schedule: list[tuple[float, int]] = []
        carried = 0
        for scale, steps in zip(self.scales, iterations):
            if scale < 1 and size is not None and min(size) * scale < MIN_COARSE_SIDE:
                carried += steps
                continue
            schedule.append((scale, steps + carried))
            carried = 0
        return tuple(schedule)

    @property
    def uses_previous_frames(self) -> bool:
        """Whether frame t depends on the stylised frames before it (so chunks must run in order)."""
        return self.init == "prev_warped" or self.temporal_weight > 0

    @property
    def previous_offsets(self) -> tuple[int, ...]:
        """How far back frame t looks: t-1 for the warm start, plus the long-term offsets of the temporal loss."""
        offsets = set(self.long_term) if self.temporal_weight > 0 else set()
        if self.init == "prev_warped":
            offsets.add(1)
        return tuple(sorted(offsets))

    @classmethod
    def from_config(cls, block: dict) -> "GatysSettings":
        fields = cls.__dataclass_fields__
        values = {key: value for key, value in block.items() if key in fields}
        if "long_term" in values:
            values["long_term"] = tuple(sorted(values["long_term"]))
        for key in ("scales", "scale_iterations"):
            if key in values:
                values[key] = tuple(values[key])
        settings = cls(**values)
        scales = settings.scales
        if list(scales) != sorted(scales) or len(set(scales)) != len(scales) or scales[-1] != 1:
            raise StylepipeError(f"config key 'gatys.scales': {list(scales)} must increase and end at 1")
        if len(scales) > 1 and settings.scale_iterations and len(settings.scale_iterations) != len(scales):
            raise StylepipeError(f"config key 'gatys.scale_iterations': {len(settings.scale_iterations)} values for "
                                 f"{len(scales)} scales; give one per scale, or none")
        # Segments are split as evenly as they can be, so none is shorter than half of segment_frames: an overlap
        # within that always lies inside the segment before.
        if settings.segment_frames and settings.segment_overlap > settings.segment_frames // 2:
            raise StylepipeError(f"config key 'gatys.segment_overlap': {settings.segment_overlap} frames is more than half of "
                                 f"gatys.segment_frames ({settings.segment_frames}); use at most {settings.segment_frames // 2}, or longer segments")
        return settings


@dataclass(frozen=True)
class TrainSettings:
    """The `feedforward.train` block of the config, plus the architecture; its defaults are the schema's."""

    arch: str = "johnson"
    steps: int = _TRAIN["steps"]
    batch_size: int = _TRAIN["batch_size"]
    image_size: int = _TRAIN["image_size"]
    lr: float = _TRAIN["lr"]
    content_weight: float = _TRAIN["content_weight"]
    style_weight: float = _TRAIN["style_weight"]
    tv_weight: float = _TRAIN["tv_weight"]
    temporal_weight: float = _TRAIN["temporal_weight"]
    anchor_weight: float = _TRAIN["anchor_weight"]
    checkpoint_every: int = _TRAIN["checkpoint_every"]
    max_frames_per_video: int = _TRAIN["max_frames_per_video"]
    seed: int = _TRAIN["seed"]

    @classmethod
    def from_config(cls, block: dict[str, Any], arch: str) -> "TrainSettings":
        fields = cls.__dataclass_fields__
        return cls(arch=arch, **{k: v for k, v in block.items() if k in fields and k != "arch"})


# Raised when the training itself changes (its losses), so that a model cached by an older version is not taken for
# this version's. 2: the losses see the output as 4:2:0 delivers it. 3: the style loss is relative per layer. 4: Adam's
# rate warms up over the first tenth of the steps. 5: the fine-tuned network's last upsampling is bilinear. 6: only the
# later frame of each pair is judged by the loss network.
TRAINING_RECIPE = 6


def model_name(style_path: str | Path, settings: TrainSettings, inputs: dict[str, Any]) -> str:
    """Names a trained model: `<style stem>-<hash>`, the hash over every training knob, the training recipe and
    `inputs`."""
    digest = hashlib.sha256(json.dumps({"train": asdict(settings), "recipe": TRAINING_RECIPE, **inputs}, sort_keys=True).encode())
    return f"{Path(style_path).stem}-{digest.hexdigest()[:12]}"
