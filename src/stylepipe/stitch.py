"""The output's frames as the video shows them: one per frame number, read from the chunk folders in layout order.

A long shot split into segments (`gatys.segment_frames`) has frames stylised twice: each segment after the first
starts `segment_overlap` frames early, so that it has settled by the time it takes over. Those frames are
cross-faded linearly from the earlier segment's to the later one's, so the switch is spread over the overlap
instead of falling between two frames. Every reader of the output (the encode, the report, the fidelity pass, the
report page) goes through here, so they all see the same frames. No torch here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stylepipe.errors import StylepipeError
from stylepipe.frames import frame_in, list_frames, owned_frames, read_frame


# Frames `OutputFrames` reads ahead of the one it gives.
READ_AHEAD = 3


@dataclass(frozen=True)
class Seam:
    """Where a later segment of a shot takes over: it starts at `chain_start` and is alone from `segment_start`."""

    chain_start: int
    segment_start: int

    @property
    def overlap(self) -> int:
        return self.segment_start - self.chain_start

    @property
    def frames(self) -> range:
        """Frames t whose step from t-1 the switch touches: the cross-fade and the frames either side of it."""
        return range(self.chain_start, self.segment_start + 1)

    def later_weight(self, number: int) -> float:
        """The later segment's share of frame `number`: rising linearly across the overlap, never 0 or 1 inside it."""
        return (number - self.chain_start + 1) / (self.overlap + 1)


def layout_seams(layout: Sequence[Mapping[str, int]]) -> dict[int, Seam]:
    """Each chain's seam (keyed by chain) where a later segment of a long shot takes over, from the chunk layout alone."""
    seams: dict[int, Seam] = {}
    for chunk in layout:
        if chunk["segment_start"] > chunk["shot_start"]:  # a later segment of its shot
            seams.setdefault(chunk["chain"], Seam(chunk["chain_start"], chunk["segment_start"]))
    return seams


class OutputFrames:
    """The frames of an output, given its chunk folders and the workflow's chunk layout (`frames.chunk_layout`).

    The caller checks the folders against their manifests; this checks that they hold the frames the layout says.
    """

    def __init__(self, folders: Sequence[str | Path], layout: Sequence[Mapping[str, int]]) -> None:
        if len(folders) != len(layout):
            raise StylepipeError(f"{len(folders)} chunk folders for a chunk layout of {len(layout)} chunks")
        owner: dict[int, Path] = {}
        later: dict[int, tuple[Path, Seam]] = {}
        seams = layout_seams(layout)
        for folder, chunk in zip(map(Path, folders), layout):
            held = [int(path.stem) for path in list_frames(folder)]
            if held != list(range(chunk["start"], chunk["end"])):
                raise StylepipeError(f"{folder}: holds frames {_ranges(held)} but the chunk layout says {chunk['start']}-{chunk['end'] - 1}; "
                                     "delete the folder to redo it")
            owned = owned_frames(chunk)
            for number in held:
                if number not in owned:
                    later[number] = (frame_in(folder, number), seams[chunk["chain"]])
                elif number in owner:
                    raise StylepipeError(f"{folder}: frame {number} is also in {owner[number].parent}; the chunk layout overlaps itself")
                else:
                    owner[number] = frame_in(folder, number)
        missing = sorted(set(range(len(owner))) - set(owner))
        if missing or not owner:
            raise StylepipeError(f"the stylised chunks lack frames {_ranges(missing) if missing else 'all'}")
        if stray := sorted(set(later) - set(owner)):
            raise StylepipeError(f"frames {_ranges(stray)} are in a segment's overlap but in no earlier segment")
        self._owner, self._later = owner, later
        self.seams = sorted(seams.values(), key=lambda seam: seam.chain_start)

    def __len__(self) -> int:
        return len(self._owner)

    def sources(self, number: int) -> list[tuple[Path, float]]:
        """The stylised frames that make frame `number`, with their weights (summing to 1)."""
        if number not in self._later:
            return [(self._owner[number], 1.0)]
        path, seam = self._later[number]
        weight = seam.later_weight(number)
        return [(self._owner[number], 1.0 - weight), (path, weight)]

    def read(self, number: int) -> np.ndarray:
        sources = self.sources(number)
        if len(sources) == 1:
            return read_frame(sources[0][0])
        mixed = sum(weight * read_frame(path).astype(np.float32) for path, weight in sources)
        return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every frame in order, read a few frames ahead on a thread: decoding a 720p JPEG takes a tenth of encoding
        it to H.264, and both release the GIL."""
        with ThreadPoolExecutor(1) as reader:
            ahead: deque[Future] = deque(reader.submit(self.read, number) for number in range(min(READ_AHEAD, len(self))))
            for number in range(READ_AHEAD, len(self) + READ_AHEAD):
                frame = ahead.popleft().result()
                if number < len(self):
                    ahead.append(reader.submit(self.read, number))
                yield frame


def _ranges(numbers: Sequence[int]) -> str:
    """Frame numbers as runs, e.g. 3-5, 9."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    shown = [f"{a}-{b}" if b > a else f"{a}" for a, b in runs[:6]]
    return ", ".join(shown) + (", ..." if len(runs) > 6 else "")
