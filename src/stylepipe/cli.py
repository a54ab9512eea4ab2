"""`stylepipe` command: small tools around the pipeline (the pipeline itself runs under Snakemake)."""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

from stylepipe.errors import StylepipeError


def _demo(args: argparse.Namespace) -> None:
    from stylepipe.demo import write_photo_video, write_style_image, write_style_video

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StylepipeError(f"{out}: cannot create the folder ({err.strerror})") from None
    write_photo_video(out / "content.mp4", args.width, args.height, args.frames, args.fps)
    write_style_video(out / "style.mp4", args.width, args.height, args.frames, args.fps)
    write_style_image(out / "style.png", args.width, args.height)
    print(f"wrote {out}/content.mp4, style.mp4 and style.png")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _even_size(text: str) -> int:
    value = _positive_int(text)
    if value < 16 or value % 2:
        raise argparse.ArgumentTypeError(f"{value} must be even and at least 16")
    return value


def _frame_rate(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"'{text}' is not a frame rate (e.g. 24, 29.97 or 30000/1001)") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"{text} is not a frame rate between 0 and 1000")
    return value


def _probe(args: argparse.Namespace) -> None:
    from stylepipe.video import probe

    print(probe(args.video).to_json())


def _warp_error(args: argparse.Namespace) -> None:
    import json
    import math

    from stylepipe.metrics import finite_mean, video_warping_errors

    errors = video_warping_errors(args.video, width=args.width, method=args.method, preset=args.preset, interpolation=args.warp)
    mean = finite_mean(errors)
    if args.json:
        # JSON has no NaN: a video of one frame, or with no reliable pixel, has no error to give.
        print(json.dumps({"video": args.video, "mean": mean if math.isfinite(mean) else None,
                          "per_frame": [e if math.isfinite(e) else None for e in errors]}))
    elif math.isfinite(mean):
        print(f"{mean:.6f}")
    else:
        raise StylepipeError(f"{args.video}: no warping error to give (it has {len(errors) + 1} frame(s) and no pair with reliable flow)")


def _fidelity(args: argparse.Namespace) -> None:
    import json


    from stylepipe import lossnet
    from stylepipe.fidelity import FidelityMeter, measure_frames, summary
    from stylepipe.frames import read_rgb
    from stylepipe.jobs.common import resolve_device
    from stylepipe.style import StyleSource, resize_rgb, style_frame_index, style_frame_size
    from stylepipe.video import iter_frames, probe

    device = resolve_device(args.device)
    net = lossnet.load_named_or_file(args.weights, device=device)
    meter = FidelityMeter(net, device)
    output = probe(args.video)
    size = (output.width, output.height)
    style = StyleSource(args.style)
    if style.is_image:
        image = read_rgb(args.style)
        style_frames = [resize_rgb(image, style_frame_size(image.shape[1], image.shape[0], output.width))]
        which = [0] * output.frame_count
    else:
        meta = probe(args.style)
        style_frames = list(iter_frames(args.style, style_frame_size(meta.width, meta.height, output.width)))
        which = style_frame_index(output.frame_count, output.fps, len(style_frames), meta.fps, "stretch")
    grams: dict[int, dict] = {}

    def grams_for(number: int) -> dict:
        key = which[min(number, len(which) - 1)]
        if key not in grams:
            grams[key] = meter.style_grams(style_frames[key])
        return grams[key]

    content = probe(args.content)
    if content.frame_count != output.frame_count:
        raise StylepipeError(f"{args.content}: {content.frame_count} frames, but {args.video} has {output.frame_count}")
    rows = list(measure_frames(meter, iter_frames(args.video), iter_frames(args.content, size), grams_for))
    report = summary(rows)
    if args.json:
        print(json.dumps({"video": args.video, "loss_network": net.info.as_dict(), **report, "per_frame": [row.__dict__ for row in rows]}))
        return
    for row in rows:
        print(f"frame {row.frame:6d}  style {row.style_distance:.4f}  content {row.content_distance:.4f}")
    first, last = report["content_distance_first_third"], report["content_distance_last_third"]
    print(f"mean style distance {report['style_distance_mean']:.4f}, content distance {report['content_distance_mean']:.4f} "
          f"(first third {first:.4f}, last third {last:.4f}, ratio {last / first if first > 0 else float('nan'):.3f})")


def _report_screenshot(args: argparse.Namespace) -> None:
    from stylepipe.report_screenshot import screenshot_report

    name = screenshot_report(args.report, args.png, args.output, (args.width, args.height))
    print(f"wrote {args.png}: {args.report} with the page of results/{name}.mp4 open")


def _status(args: argparse.Namespace) -> None:
    import time

    from stylepipe.status import name_from_argument, output_names, output_status

    results = Path(args.results)
    while True:
        names = [name_from_argument(o) for o in args.outputs] or output_names(results)
        if not names:
            raise StylepipeError(f"{results}: no output has started here; run snakemake first, or give --results")
        statuses = [output_status(results, name) for name in names]
        for status in statuses:
            print(status.line(), flush=True)
        if not args.watch or all(s.state in ("done", "failed", "stopped") for s in statuses):
            return
        time.sleep(args.watch)
        print(flush=True)


def _snakemake_command() -> str:
    import shutil

    beside = Path(sys.executable).with_name("snakemake")
    found = str(beside) if beside.is_file() else shutil.which("snakemake")
    if not found:
        raise StylepipeError("snakemake is not installed in this environment (pip install snakemake)")
    return found


def _preview(args: argparse.Namespace) -> None:
    import subprocess

    target = f"results/{args.output}/preview.png"
    command = [_snakemake_command(), "--cores", str(args.cores), target]
    if args.snakefile:
        command[1:1] = ["--snakefile", args.snakefile]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        ours = [line for line in result.stderr.splitlines() if line.startswith("stylepipe:")]
        last_line = next((line.strip() for line in reversed(result.stderr.splitlines()) if line.strip()), "no output")
        log = Path(f"results/{args.output}/logs/preview.log")
        # The preview job's log exists only when the job started; a failure before it is in Snakemake's own output.
        where = f"see {log}" if log.is_file() else "see the newest log in .snakemake/log/"
        raise StylepipeError(ours[-1][len("stylepipe: "):] if ours else f"snakemake failed on {target} ({last_line}); {where}")
    log = Path(f"results/{args.output}/logs/preview.log")
    said = [line for line in log.read_text().splitlines() if line.strip() and not line.startswith(("started ", "finished "))] if log.is_file() else []
    last = said[-1] if said else ""
    up_to_date = "nothing to be done" in (result.stdout + result.stderr).lower()
    print(f"{target} is up to date ({last})" if up_to_date else last)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylepipe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="write the demo inputs: a clip made from a photograph (with a tone), a style video and a style image")
    demo.add_argument("out", help="folder to write into")
    demo.add_argument("--width", type=_even_size, default=320)
    demo.add_argument("--height", type=_even_size, default=180)
    demo.add_argument("--frames", type=_positive_int, default=30)
    demo.add_argument("--fps", type=_frame_rate, default=Fraction(15), help="frame rate, e.g. 24 or 30000/1001")
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
    warp.add_argument("--width", type=_even_size, default=None, help="measure at this width (default: the video's own)")
    warp.add_argument("--method", choices=["dis", "farneback"], default="dis")
    warp.add_argument("--preset", choices=["ultrafast", "fast", "medium"], default="medium")
    warp.add_argument("--warp", choices=["bilinear", "lanczos"], default="bilinear",
                      help="bilinear as Lai et al.; lanczos does not count the bilinear blur of a sharp frame as an error")
    warp.set_defaults(run=_warp_error)
    fidelity = measures.add_parser(
        "fidelity",
        help="per frame: VGG style distance to the style and content distance to the content frame (relative; 0 = same)",
    )
    fidelity.add_argument("video")
    fidelity.add_argument("--content", required=True, help="the content video the output was made from")
    fidelity.add_argument("--style", required=True, help="the style image or video")
    fidelity.add_argument("--weights", default="auto", help="loss network: auto, imagenet-vgg19, hed-vgg16, random, or a weights file")
    fidelity.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    fidelity.add_argument("--json", action="store_true", help="print the per-frame values as JSON")
    fidelity.set_defaults(run=_fidelity)
    status = commands.add_parser("status", help="frames stylised of the total, seconds a frame and an ETA for each output in flight or done")
    status.add_argument("outputs", nargs="*", help="outputs to show (out, results/out or results/out.mp4); default: every one started")
    status.add_argument("--results", default="results", help="the results folder (default: ./results)")
    status.add_argument("--watch", type=float, default=0, metavar="SECONDS", help="print again every SECONDS until nothing runs")
    status.set_defaults(run=_status)
    preview = commands.add_parser("preview", help="stylise three frames spread through the clip with the output's settings: results/NAME/preview.png")
    preview.add_argument("output", nargs="?", default="out", help="the output's name (default: out)")
    preview.add_argument("--cores", default="all", help="cores for Snakemake (default: all)")
    preview.add_argument("--snakefile", default=None, help="the workflow's Snakefile, when not in this folder")
    preview.set_defaults(run=_preview)
    shot = commands.add_parser("report-screenshot", help="screenshot the Snakemake report with one output's page open (headless Chromium)")
    shot.add_argument("report", help="the report, e.g. results/report.html")
    shot.add_argument("png", help="the screenshot to write")
    shot.add_argument("--output", default=None, help="whose page to open (default: the first)")
    shot.add_argument("--width", type=int, default=1400)
    shot.add_argument("--height", type=int, default=1600)
    shot.set_defaults(run=_report_screenshot)
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
