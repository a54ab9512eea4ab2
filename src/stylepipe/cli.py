"""`stylepipe` command: small tools around the pipeline (the pipeline itself runs under Snakemake)."""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

from stylepipe.errors import StylepipeError


def _demo(args: argparse.Namespace) -> None:
    from stylepipe.demo import write_content_video, write_style_image, write_style_video

    out = Path(args.out)
    fps = Fraction(args.fps)
    write_content_video(out / "content.mp4", args.width, args.height, args.frames, fps)
    write_style_video(out / "style.mp4", args.width, args.height, args.frames, fps)
    write_style_image(out / "style.png", args.width, args.height)
    print(f"wrote {out}/content.mp4, style.mp4 and style.png")


def _probe(args: argparse.Namespace) -> None:
    from stylepipe.video import probe

    print(probe(args.video).to_json())


def _warp_error(args: argparse.Namespace) -> None:
    import json

    from stylepipe.metrics import finite_mean, video_warping_errors

    errors = video_warping_errors(args.video, width=args.width, method=args.method, preset=args.preset)
    mean = finite_mean(errors)
    if args.json:
        print(json.dumps({"video": args.video, "mean": mean, "per_frame": errors}))
    else:
        print(f"{mean:.6f}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylepipe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="write the procedural demo inputs (content with audio, style video, style image)")
    demo.add_argument("out", help="folder to write into")
    demo.add_argument("--width", type=int, default=320)
    demo.add_argument("--height", type=int, default=180)
    demo.add_argument("--frames", type=int, default=30)
    demo.add_argument("--fps", type=str, default="15", help="frame rate, e.g. 24 or 30000/1001")
    demo.set_defaults(run=_demo)
    probe = commands.add_parser("probe", help="print a video's size, fps, frame count and audio codec as JSON")
    probe.add_argument("video")
    probe.set_defaults(run=_probe)
    metrics = commands.add_parser("metrics", help="measure a video")
    measures = metrics.add_subparsers(dest="measure", required=True)
    warp = measures.add_parser(
        "warp-error",
        help="mean warping error (Lai et al. 2018) between consecutive frames, flow computed from the video itself",
    )
    warp.add_argument("video")
    warp.add_argument("--json", action="store_true", help="print the per-frame values as JSON")
    warp.add_argument("--width", type=int, default=None, help="measure at this width (default: the video's own)")
    warp.add_argument("--method", choices=["dis", "farneback"], default="dis")
    warp.add_argument("--preset", choices=["ultrafast", "fast", "medium"], default="medium")
    warp.set_defaults(run=_warp_error)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except StylepipeError as err:
        print(f"stylepipe: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
