"""Optical flow, blend stabilisation and the warping-error report. No torch here."""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from stylepipe.errors import StylepipeError
from stylepipe.flow import FLOW_RUN, ChunkFlows, FlowEstimator, FlowWriter, consistency_mask, frame_flows, quantized_flow, resize_flow, warping_error, working_size
from stylepipe.frames import JPEG, atomic_dir, atomic_file, checked_folder, frame_name, owned_frames, read_frame, set_aside, shot_firsts, write_rgb, write_text_atomic
from stylepipe.jobs.common import Log, content_frame_path, content_frame_total, content_frames, find_frame, stderr_log, verified_frames
from stylepipe.metrics import EDGE_BLUR_SIGMA, edge_correlation, finite_mean, thirds
from stylepipe.stitch import OutputFrames, Seam, layout_seams
from stylepipe.temporal import blend_share, blend_with_previous, content_change
from stylepipe.video import iter_frames


def flow_job(
    frames_dir: str, span: dict[str, int], chunk_frames: int, shots_path: str, out_path: str, method: str, preset: str,
    offsets: Sequence[int], flow_width: int = 0, threads: int = 1, log: Log = stderr_log,
) -> None:
    """Backward/forward flow and reliability masks from every frame of a chunk to the frames `offsets` back.

    The flows are computed and stored at `flow_width` (`flow.width`; 0 or wider than the frames: their width), and
    brought to the frames' size where they are used (`ChunkFlows`).

    `span` is the chunk's frames [start, end); no flow looks back across a cut (shots.json), even within a chunk.
    Runs of consecutive frames go to `threads` threads (OpenCV's DIS barely uses a second core by itself, and it
    releases the GIL), and each run's flows are written as soon as the runs before it are: memory holds a few runs,
    not the chunk, whose flows at 1080p would not fit.
    """
    shots = json.loads(Path(shots_path).read_text())["shots"]
    targets = list(range(span["start"], span["end"]))
    shot_first = shot_firsts(shots, targets)
    wanted = {t - d for t in targets for d in offsets if t - d >= shot_first[t]} | set(targets)
    paths = {int(path.stem): path for path in content_frames(frames_dir, wanted, chunk_frames)}

    frame_size = read_frame(paths[targets[0]]).shape[1::-1]
    size = working_size(*frame_size, flow_width or frame_size[0])

    def run_flows(run: Sequence[int]) -> dict[str, np.ndarray]:
        estimator = FlowEstimator(method, preset, finest=size != frame_size)
        frames: dict[int, np.ndarray] = {}
        arrays: dict[str, np.ndarray] = {}
        for t in run:
            earlier = [d for d in offsets if t - d >= shot_first[t]]
            for number in [t, *(t - d for d in earlier)]:
                if number not in frames:
                    frame = read_frame(paths[number])
                    frames[number] = frame if size == frame_size else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            arrays.update(frame_flows(frames[t], {d: frames[t - d] for d in earlier}, t, estimator))
            frames = {n: f for n, f in frames.items() if n > t - max(offsets)}
        return arrays

    began = time.perf_counter()
    runs = [targets[k : k + FLOW_RUN] for k in range(0, len(targets), FLOW_RUN)]
    pairs = write_flows(out_path, frame_size, run_flows, runs, threads)
    log(f"flow ({method}{'/' + preset if method == 'dis' else ''}): {pairs} pairs for frames {targets[0]}-{targets[-1]}, "
        f"at {size[0]}x{size[1]}, {(time.perf_counter() - began) / max(1, pairs) * 1000:.1f} ms a pair (both directions and mask) "
        f"on {max(1, threads)} thread(s)")


def write_flows(
    out_path: str, frame_size: tuple[int, int], compute: Callable[[Any], dict[str, np.ndarray]], items: Sequence[Any], threads: int,
) -> int:
    """A flow file (ChunkFlows' format) of `compute(item)`'s flows and masks for every item, `threads` items side by
    side. Each item's arrays are written as soon as those before it are, so memory holds a few items' flows, not
    the file's, which at 1080p would not fit. Returns the frame pairs written."""
    workers = max(1, threads)
    cv2.setNumThreads(1)  # the threads below are the parallelism; OpenCV's own would only contend with them
    pairs = 0
    with atomic_file(out_path) as tmp, FlowWriter(tmp) as writer, ThreadPoolExecutor(workers) as pool:
        writer.add({"frame_size": np.array(frame_size, np.int32)})
        pending: deque[Future] = deque()
        for k, item in enumerate(items):
            pending.append(pool.submit(compute, item))
            # Write the oldest item once `workers` more are under way, and every item once the last is submitted.
            while pending and (len(pending) > workers or k == len(items) - 1):
                arrays = pending.popleft().result()
                writer.add(arrays)
                pairs += len(arrays) // 2
    return pairs


def stabilize_chunk_job(
    raw_dir: str, span: dict[str, int], flow_path: str, previous_dirs: Sequence[str], out_dir: str, strength: float, warp: str = "lanczos",
    frames_dir: str | None = None, chunk_frames: int = 0, change_scale: float = 0.0, threads: int = 1, log: Log = stderr_log,
) -> None:
    """Blend each stylised frame with the stabilised frame before it, warped by the flow, where it is reliable.

    With a `change_scale`, the share of the warped frame also falls where the content frames (`frames_dir`, in
    folders of `chunk_frames`) show a change that the motion does not explain (`temporal.blend_share`).

    The first frame of a chain (`span["chain_start"]`: a shot's, or a segment's) is kept as it is: nothing before a cut
    shows the same scene, and a segment's chain owes nothing to the segment before it. Neither is any frame without
    a flow from the frame before it, which is every cut inside a feed-forward chunk; the runs between them do not
    depend on each other, so `threads` threads take them side by side. Memory holds one frame and its predecessor
    per thread, and their content frames.
    """
    flows = ChunkFlows.load(flow_path)
    for folder in previous_dirs:
        checked_folder(folder)
    def afresh(number: int) -> bool:
        return number == span["chain_start"] or not flows.has(1, number)

    paths = verified_frames(raw_dir)
    runs: list[list[Path]] = []
    for path in paths:
        if not runs or afresh(int(path.stem)):
            runs.append([])
        runs[-1].append(path)

    follows_content = change_scale > 0
    if follows_content:
        if frames_dir is None:
            raise ValueError("a change_scale needs the content frames")
        numbers = [int(path.stem) for path in paths]
        wanted = numbers if afresh(numbers[0]) else [numbers[0] - 1, *numbers]
        content_paths = {int(path.stem): path for path in content_frames(frames_dir, wanted, chunk_frames)}

    working = flows.working_size()

    def working_content(number: int) -> np.ndarray:
        # The content change is judged at the flow's working size: a change worth holding back for spans more than
        # a pixel there, and it costs a quarter of the full size's time at 720p.
        frame = read_frame(content_paths[number])
        return frame if working is None or frame.shape[1::-1] == working else cv2.resize(frame, working, interpolation=cv2.INTER_AREA)

    def inputs(number: int, path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """Frame `number`'s stylised frame, its content at the working size, and its stored flow and mask (when it
        has a frame before it in the run)."""
        fresh = read_frame(path)
        content = working_content(number) if follows_content else None
        if afresh(number):
            return fresh, content, None, None
        return fresh, content, flows.backward(1, number, working=True), flows.reliable(1, number)

    def stabilize_run(run: Sequence[Path], scratch: Path) -> None:
        first = int(run[0].stem)
        # Only a run's first frame can start afresh; a run that does not goes on from the chunk before.
        previous = None if afresh(first) else read_frame(find_frame(previous_dirs, first - 1))
        previous_content = working_content(first - 1) if follows_content and previous is not None else None
        # One thread reads the next frame and writes the last while this one blends: decoding and encoding a 720p
        # frame take a tenth of the blend's time, and OpenCV releases the GIL for both.
        with ThreadPoolExecutor(1) as io:
            upcoming = io.submit(inputs, first, run[0])
            written: Future | None = None
            for k, path in enumerate(run):
                number = int(path.stem)
                fresh, content, stored, reliable = upcoming.result()
                if k + 1 < len(run):
                    upcoming = io.submit(inputs, int(run[k + 1].stem), run[k + 1])
                if previous is None:
                    previous = fresh
                else:
                    change = None
                    if follows_content:
                        change = content_change(content, previous_content, stored)
                        change = cv2.resize(change, fresh.shape[1::-1], interpolation=cv2.INTER_LINEAR)
                    # The stored flow is decoded once, and brought to the frames' size here.
                    share = blend_share(reliable, strength, change, change_scale)
                    previous = blend_with_previous(fresh, previous, resize_flow(stored, fresh.shape[1::-1]), share, warp)
                previous_content = content
                if written is not None:
                    written.result()
                written = io.submit(write_rgb, scratch / frame_name(number, JPEG), previous)
            if written is not None:
                written.result()

    with atomic_dir(out_dir) as scratch:
        with ThreadPoolExecutor(max(1, min(threads, len(runs)))) as pool:
            for done in [pool.submit(stabilize_run, run, scratch) for run in runs]:
                done.result()
        stats = json.loads((Path(raw_dir) / "stats.json").read_text())
        stats["stabilized"] = {"method": "blend", "strength": strength, "change_scale": change_scale, "warp": warp}
        (scratch / "stats.json").write_text(json.dumps(stats, indent=1))
    follows = f", less where the content changed (scale {change_scale:g})" if follows_content else ""
    log(f"stabilised {len(paths)} frames in {len(runs)} run(s) between cuts (blend, strength {strength}{follows}, {warp} warp)")


# The report's second warping error warps with this, which does not blur a sharp frame as Lai's bilinear warp does.
SHARP_WARP = "lanczos"
# At most this many frame pairs are measured, spread evenly over the clip (and every segment seam): a mean over 60
# pairs moves by a few percent, and the pass costs the same for a three-minute clip as for a ten-second one.
REPORT_PAIRS = 60


def measured_frames(count: int, seams: Sequence[Seam], pairs: int = REPORT_PAIRS) -> list[int]:
    """The frames whose pair with the frame before is measured: every frame of a short clip; of a longer one, `pairs`
    spread evenly, and every frame of a segment seam."""
    stride = max(1, math.ceil(count / pairs))
    chosen = set(range(min(stride, count - 1) if count > 1 else 0, count, stride)) if stride > 1 else set(range(count))
    chosen |= {t for seam in seams for t in seam.frames if t < count}
    return sorted(chosen)


def report_flow(frame: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The report's own backward flow from `frame` to `previous` and its consistency mask: DIS `ultrafast` run down
    to the frames' finest scale at their full size, which no stage does.

    Measured with the flow the blend followed, a frame dragged along a wrong flow scores as steady: on a 720p clip
    with exact motion, the stage's own flow put the blended frames at 0.19x their true warping error, flows at the
    stage's working size 0.28-0.36x, and this one 0.61x, at 0.39 s a pair against 0.83 for `medium` at full size
    (docs/performance.md). Its errors are least like the stage's where it sees finer detail than the stage did."""
    estimator = FlowEstimator("dis", "ultrafast", finest=True)
    bwd = estimator(frame, previous)
    return bwd, consistency_mask(bwd, estimator(previous, frame))


def report_flows_job(
    frames_dir: str, chunk_frames: int, shots_path: str, layout: Sequence[Mapping[str, int]], out_path: str, threads: int = 1,
    log: Log = stderr_log,
) -> None:
    """report_flows.npz: `report_flow` for every measured frame pair (`measured_frames`) that does not cross a cut,
    in ChunkFlows' format (offset 1, at the frames' full size).

    The report and the delivered video's measurement both read it: the same pairs with the same flow, computed once
    (at 1080p a pair's flow takes about a second). `threads` threads take the pairs side by side (`write_flows`).
    """
    shot_starts = {shot[0] for shot in json.loads(Path(shots_path).read_text())["shots"]}
    count = content_frame_total(frames_dir)
    pairs = [t for t in measured_frames(count, list(layout_seams(layout).values())) if t not in shot_starts]
    began = time.perf_counter()

    def pair_flow(t: int) -> dict[str, np.ndarray]:
        bwd, mask = report_flow(read_frame(content_frame_path(frames_dir, t, chunk_frames)),
                                read_frame(content_frame_path(frames_dir, t - 1, chunk_frames)))
        return {f"bwd_1_{t}": quantized_flow(bwd), f"reliable_1_{t}": mask}

    frame_size = read_frame(content_frame_path(frames_dir, 0, chunk_frames)).shape[1::-1]
    write_flows(out_path, frame_size, pair_flow, pairs, threads)
    log(f"the report's flow (DIS ultrafast, finest scale, {frame_size[0]}x{frame_size[1]}): {len(pairs)} frame pairs of {count} frames, "
        f"{(time.perf_counter() - began) / max(1, len(pairs)):.2f} s a pair on {max(1, threads)} thread(s)")


def report_flows(flows_path: str, wanted: Sequence[int]) -> ChunkFlows:
    """report_flows.npz, checked to hold a flow to the frame before for each frame of `wanted`."""
    flows = ChunkFlows.load(flows_path)
    if missing := [t for t in wanted if not flows.has(1, t)]:
        aside = set_aside(flows_path)
        raise StylepipeError(f"{flows_path}: has no flow for the frame pair ending at frame {missing[0]} (of {len(missing)} missing); "
                             f"set aside as {aside.name}: run the same command again to redo it")
    return flows


def report_job(
    frames_dir: str,
    chunk_frames: int,
    stylized_dirs: Sequence[str],
    shots_path: str,
    flows_path: str,
    layout: Sequence[Mapping[str, int]],
    out_path: str,
    unstabilized_dirs: Sequence[str] = (),
    fidelity: dict[str, Any] | None = None,
    threads: int = 1,
    log: Log = stderr_log,
) -> dict[str, Any]:
    """metrics.json: E_warp of the output and of the content (same flows and masks), losses, timings, weights.

    The warping errors use a flow of the report's own on the content frames (`report_flow`, computed by
    `report_flows_job` into `flows_path`), and are measured on at most REPORT_PAIRS frame pairs
    (`measured_frames`); the other frames are null in the per-frame lists, as is the first frame of each shot (a
    cut: nothing before it shows the same scene; shots.json). The encoded video is measured by `delivered_report`,
    after the encode.
    `threads` threads take the pairs, each reading its frames, so memory does not grow with the video.
    The folder lists are in layout order, as the workflow's chunk list gives them. Where a long shot is split into
    segments, the seams' errors are set beside the median of the other frames.
    """
    sequences = {"output": stylized_dirs, "unstabilized": unstabilized_dirs}
    sequences = {name: folders for name, folders in sequences.items() if folders}
    # The content folders once each, here: chunks that follow the shots share them, and the fidelity pass reads them too.
    for folders in [*sequences.values(), sorted(Path(frames_dir).glob("chunk_*"))]:
        for folder in folders:
            checked_folder(folder)
    outputs = {name: OutputFrames(folders, layout) for name, folders in sequences.items()}
    count = len(outputs["output"])
    shot_starts = {shot[0] for shot in json.loads(Path(shots_path).read_text())["shots"]}
    measured = measured_frames(count, outputs["output"].seams)
    flows = report_flows(flows_path, [t for t in measured if t not in shot_starts])
    names = ["input", *outputs]
    # (sequence, warp) pairs measured: Lai's bilinear for every sequence, and the sharp warp for the output against
    # the input, which tells flicker from the bilinear warp's own blur of a sharp stylised frame.
    measures = [(name, "bilinear") for name in names] + [(name, SHARP_WARP) for name in ("input", "output")]

    def pair_errors(t: int) -> tuple[dict[tuple[str, str], float | None], float]:
        """E_warp of each sequence from frame t-1 to frame t (None at a shot's first frame), and the output's edge
        correlation with the content at frame t."""
        current = {"input": read_frame(content_frame_path(frames_dir, t, chunk_frames))}
        current.update({name: frames.read(t) for name, frames in outputs.items()})
        structure = edge_correlation(current["input"], current["output"])
        if t in shot_starts:
            return dict.fromkeys(measures), structure
        previous = {"input": read_frame(content_frame_path(frames_dir, t - 1, chunk_frames))}
        previous.update({name: frames.read(t - 1) for name, frames in outputs.items()})
        bwd, mask = flows.backward(1, t), flows.reliable(1, t)
        return {(key, warp): warping_error(current[key], previous[key], bwd, mask, warp) for key, warp in measures}, structure

    # Pairs side by side: reading the frames and warping them are most of the time, and both release the GIL.
    with ThreadPoolExecutor(max(1, threads)) as pool:
        results = dict(zip(measured, pool.map(pair_errors, measured)))
    errors: dict[tuple[str, str], list[float | None]] = {measure: [results[t][0][measure] if t in results else None for t in range(count)]
                                                        for measure in measures}
    structure = [results[t][1] if t in results else float("nan") for t in range(count)]
    out_errors, raw_errors = errors["output", "bilinear"], errors.get(("unstabilized", "bilinear"))
    stats = [json.loads((Path(folder) / "stats.json").read_text()) for folder in stylized_dirs]
    # Losses once per output frame (a segment's overlap frames are its warm-up); time for every frame stylised.
    per_frame = [frame for chunk, part in zip(layout, stats) for frame in part["frames"] if frame["frame"] in owned_frames(chunk)]
    seconds = sum(frame["seconds"] for part in stats for frame in part["frames"])
    lai, sharp = (_warp_summary(errors["output", warp], errors["input", warp]) for warp in ("bilinear", SHARP_WARP))
    report = {
        "frames": count,
        "warp_error": {
            **lai,
            "unstabilized_output_mean": finite_mean(raw_errors) if raw_errors is not None else None,
            "unstabilized_output_per_frame": raw_errors,
            "definition": "Lai et al. 2018: sum(M |F_t - warp(F_t-1)|^2) / sum(M), RGB in [0,1], with a flow of the report's own on the "
                          "content frames (DIS ultrafast to the finest scale at full size; no stage uses it) and M its Ruder consistency mask; one value "
                          f"per measured frame (at most {REPORT_PAIRS}, spread evenly), null at the others and at the first frame of each shot",
            SHARP_WARP: {
                **sharp,
                "definition": "the same with a Lanczos warp instead of Lai's bilinear one: bilinear blurs, and on a sharp stylised "
                              "frame that blur alone reads as an error several times a smooth content frame's, with no flicker at all",
            },
        },
        "structure": structure_summary(structure),
        "seams": seam_report(outputs["output"].seams, out_errors),
        "weights": stats[0]["weights"] if stats else None,
        "device": stats[0]["device"] if stats else None,
        "stylize": {
            "seconds_per_frame": seconds / max(1, count),
            "content_loss_per_frame": [f.get("content_loss") for f in per_frame],
            "style_loss_per_frame": [f.get("style_loss") for f in per_frame],
        },
    }
    if fidelity is not None:
        from stylepipe.jobs.gatys import fidelity_per_frame  # torch: only where a loss network measures the frames

        report["fidelity"] = fidelity_per_frame(frames_dir, outputs["output"], log=log, **fidelity)
    write_text_atomic(out_path, json.dumps(report, indent=1))
    log(f"E_warp output {lai['output_mean']:.5f}, input {lai['input_mean']:.5f}, ratio {_figure(lai['ratio_output_to_input'])} "
        f"(with a {SHARP_WARP} warp: output {sharp['output_mean']:.5f}, input {sharp['input_mean']:.5f}, "
        f"ratio {_figure(sharp['ratio_output_to_input'])})")
    log(f"structure (edge correlation with the content): mean {report['structure']['mean']:.3f}, "
        f"first third {report['structure']['first_third']:.3f}, last third {report['structure']['last_third']:.3f}, "
        f"lowest {report['structure']['min']:.3f}")
    if report["seams"]["count"]:
        seams = report["seams"]
        log(f"segment seams: {seams['count']}, worst E_warp {seams['max']:.5f} = {seams['ratio_max_to_median']:.2f}x the median "
            f"of the other frames ({seams['median_elsewhere']:.5f})")
    return report


def delivered_report(
    video_path: str | Path, frames_dir: str, chunk_frames: int, flows_path: str, out_path: str, threads: int = 1,
    log: Log = stderr_log,
) -> dict[str, Any]:
    """delivered.json: the encoded video's warping error beside the content's, on the report's frame pairs and
    with its flow (report_flows.npz, from `report_flows_job`): what the viewer sees, with the codec's losses (4:2:0 colour
    above all) on top of the cached frames' that metrics.json measures.

    The video is decoded once; only the frames of pairs not yet measured are held.
    """
    count = content_frame_total(frames_dir)
    flows = ChunkFlows.load(flows_path)
    wanted = set(flows.frames(1))

    def pair_errors(t: int, previous: np.ndarray, current: np.ndarray) -> tuple[float, float]:
        content = read_frame(content_frame_path(frames_dir, t, chunk_frames))
        content_before = read_frame(content_frame_path(frames_dir, t - 1, chunk_frames))
        bwd, mask = flows.backward(1, t), flows.reliable(1, t)
        return warping_error(current, previous, bwd, mask), warping_error(content, content_before, bwd, mask)

    results: dict[int, tuple[float, float]] = {}
    held: dict[int, np.ndarray] = {}
    decoded = 0
    with ThreadPoolExecutor(max(1, threads)) as pool:
        pending: deque[tuple[int, Future]] = deque()
        for t, frame in enumerate(iter_frames(video_path)):
            decoded = t + 1
            if t + 1 in wanted:
                held[t] = frame
            if t in wanted:
                pending.append((t, pool.submit(pair_errors, t, held.pop(t - 1), frame)))
            while len(pending) > 2 * max(1, threads) or (pending and pending[0][1].done()):
                done, future = pending.popleft()
                results[done] = future.result()
        for done, future in pending:
            results[done] = future.result()
    if decoded != count:
        raise StylepipeError(f"{video_path}: holds {decoded} frames but the clip has {count}; not measuring a video that does not match")
    delivered = [results[t][0] if t in results else None for t in range(count)]
    content = [results[t][1] if t in results else None for t in range(count)]
    summary = _warp_summary(delivered, content)
    report = {
        "frames": count,
        "delivered_mean": summary["output_mean"],
        "input_mean": summary["input_mean"],
        "ratio_delivered_to_input": summary["ratio_output_to_input"],
        "delivered_per_frame": delivered,
        "input_per_frame": content,
        "definition": "metrics.json's warping error (Lai et al. 2018, the report's own flow and pairs) of the encoded video as "
                      "delivered, decoded, beside the content frames'",
    }
    write_text_atomic(out_path, json.dumps(report, indent=1))
    log(f"E_warp of the delivered video {report['delivered_mean']:.5f}, input {report['input_mean']:.5f}, "
        f"ratio {_figure(report['ratio_delivered_to_input'])}")
    return report


def _warp_summary(output: list[float | None], content: list[float | None]) -> dict[str, Any]:
    """Both sequences' mean warping errors, their ratio (how much flicker stylising added) and the per-frame values."""
    out_mean, in_mean = finite_mean(output), finite_mean(content)
    return {"output_mean": out_mean, "input_mean": in_mean, "ratio_output_to_input": out_mean / in_mean if in_mean > 0 else None,
            "output_per_frame": output, "input_per_frame": content}


def structure_summary(values: Sequence[float]) -> dict[str, Any]:
    """The output's edge correlation with the content: per frame, its mean, lowest, and the first and last thirds, so a
    picture that fades along the clip shows as a last third below the first."""
    finite = [v for v in values if math.isfinite(v)]
    first, last = thirds(finite) if finite else (float("nan"), float("nan"))
    return {"mean": finite_mean(values), "min": min(finite, default=float("nan")), "first_third": first, "last_third": last,
            "per_frame": [v if math.isfinite(v) else None for v in values],
            "definition": "Pearson correlation of the Sobel gradient magnitudes of content and output (luma, after a Gaussian blur "
                          f"of {EDGE_BLUR_SIGMA:g} px): 1 is the content's own structure, 0 none of it"}


def _figure(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}"


def seam_report(seams: Sequence[Seam], errors: Sequence[float | None]) -> dict[str, Any]:
    """The warping error at each segment seam, against the median of every other frame's: a seam that pops shows as a ratio well above 1."""
    at_seams = {t for seam in seams for t in seam.frames if t < len(errors)}
    elsewhere = [value for t, value in enumerate(errors) if t not in at_seams and value is not None]
    median = float(np.median(elsewhere)) if elsewhere else None
    rows = []
    for seam in seams:
        values = [errors[t] for t in seam.frames if t < len(errors) and errors[t] is not None]
        rows.append({"chain_start": seam.chain_start, "segment_start": seam.segment_start, "overlap": seam.overlap,
                     "per_frame": values, "max": max(values) if values else None})
    worst = max((row["max"] for row in rows if row["max"] is not None), default=None)
    return {
        "count": len(rows),
        "max": worst,
        "median_elsewhere": median,
        "ratio_max_to_median": worst / median if worst is not None and median else None,
        "seams": rows,
        "definition": "E_warp of the output at frames chain_start..segment_start (the cross-fade and the steps into and out of it), "
                      "against the median E_warp of all other frames",
    }
