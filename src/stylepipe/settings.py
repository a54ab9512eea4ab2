"""The settings the workflow needs while it builds the DAG. Nothing here imports torch, so parsing the
Snakefile (every dry run, no-op rerun and cluster job) stays fast."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stylepipe.errors import StylepipeError

# Named loss-network weight sources (see stylepipe.lossnet); anything else is a file path.
LOSS_NETWORK_SOURCES = ("auto", "imagenet-vgg19", "hed-vgg16", "random")


@dataclass(frozen=True)
class GatysSettings:
    """The `gatys:` block of the config."""

    iterations: int = 60
    first_iterations: int = 120
    optimizer: str = "lbfgs"
    content_weight: float = 5.0
    style_weight: float = 100.0
    tv_weight: float = 1e-3
    init: str = "prev_warped"
    preserve_colors: bool = False
    learning_rate: float = 2.0
    seed: int = 0
    temporal_weight: float = 1e3
    long_term: tuple[int, ...] = (1,)
    scales: tuple[float, ...] = (0.5, 1.0)
    scale_iterations: tuple[int, ...] = (50, 40)
    style_scale: float = 1.0
    restart_below: float = 0.3
    warp: str = "spline"
    uncovered_start: str = "neighbours"
    anchor_iterations: int = 0
    anchor_scale: float = 0.5
    anchor_share: float = 0.1
    context_relax: float = 0.0
    segment_frames: int = 0
    segment_overlap: int = 20

    def first_frame_schedule(self) -> tuple[tuple[float, int], ...]:
        """(scale, iterations) for the first frame of a shot: coarse to fine, ending at full size."""
        if len(self.scales) == 1:
            return ((1.0, self.first_iterations),)
        iterations = self.scale_iterations or (self.first_iterations,) * len(self.scales)
        return tuple(zip(self.scales, iterations))

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
    """The `feedforward.train` block of the config, plus the architecture."""

    arch: str = "johnson"
    steps: int = 300
    batch_size: int = 2
    image_size: int = 128
    lr: float = 1e-3
    content_weight: float = 5.0
    style_weight: float = 100.0
    tv_weight: float = 1e-3
    temporal_weight: float = 100.0
    checkpoint_every: int = 50
    max_frames_per_video: int = 120
    seed: int = 0

    @classmethod
    def from_config(cls, block: dict[str, Any], arch: str) -> "TrainSettings":
        fields = cls.__dataclass_fields__
        return cls(arch=arch, **{k: v for k, v in block.items() if k in fields and k != "arch"})


def model_name(style_path: str | Path, settings: TrainSettings, inputs: dict[str, Any]) -> str:
    """Names a trained model: `<style stem>-<hash>`, the hash over every training knob and `inputs`."""
    digest = hashlib.sha256(json.dumps({"train": asdict(settings), **inputs}, sort_keys=True).encode())
    return f"{Path(style_path).stem}-{digest.hexdigest()[:12]}"
