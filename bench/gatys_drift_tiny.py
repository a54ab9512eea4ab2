"""tests/test_shot_drift.py's clip and settings (64 px, 36 frames, VGG-16, 10 iterations), with config overrides:
one run in about a minute, for trying Gatys-mode changes against the test's three figures before the slow bench.

Prints drift (content distance, last third / first), the output's warping error against the input's, the mean
style distance (the test's independent frames score 0.207; the test allows 1.1x that) and each frame's content
distance. The stylised frames are in WORKDIR/work/results/out/stylized.

    .venv/bin/python bench/gatys_drift_tiny.py WORKDIR [gatys.anchor_iterations=10 ...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from conftest import converted_vgg16, make_workdir, run_snakemake  # noqa: E402
from gatys_drift import apply  # noqa: E402
from test_shot_drift import drift_clip_and_config  # noqa: E402


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    root, overrides = Path(sys.argv[1]), sys.argv[2:]
    root.mkdir(parents=True, exist_ok=True)
    config = drift_clip_and_config(root, "cpu", converted_vgg16(root))
    for assignment in overrides:
        apply(config, assignment)
    began = time.perf_counter()
    workdir = make_workdir(root / "work", config)
    result = run_snakemake(workdir, "results/out.mp4")
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    metrics = json.loads((workdir / "results/out/metrics.json").read_text())
    fidelity = metrics["fidelity"]
    print(f"{overrides or 'test settings'}: drift x{fidelity['content_distance_last_third'] / fidelity['content_distance_first_third']:.3f}, "
          f"E_warp {metrics['warp_error']['ratio_output_to_input']:.2f}x the input's ({metrics['warp_error']['lanczos']['ratio_output_to_input']:.2f}x "
          f"with a Lanczos warp), style distance {fidelity['style_distance_mean']:.4f}; "
          f"{time.perf_counter() - began:.0f} s")
    print("content distance per frame:", " ".join(f"{d:.2f}" for d in fidelity["content_distance_per_frame"]))


if __name__ == "__main__":
    main()
