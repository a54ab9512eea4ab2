"""The exact-motion clip made from a photograph: its true flow moves each frame onto the next."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from stylepipe.demo import painterly_frame
from stylepipe.flow import warp_backward
from stylepipe.photo_scene import PhotoScene


def _photo(width: int, height: int, seed: int) -> np.ndarray:
    # A stand-in photograph: smooth areas and edges, softened as a lens would.
    return cv2.GaussianBlur(painterly_frame(width, height, 0.4, seed=seed), (0, 0), 1.2)


def test_the_true_flow_carries_each_frame_onto_the_next_where_it_says_it_holds():
    scene = PhotoScene(_photo(480, 360, 1), _photo(200, 200, 2), 160, 90, 12, pan=(0.01, 0.004), zoom=1.01, turn=0.5)
    for t in (1, 6, 11):
        now, before = scene.render(t).astype(np.float32), scene.render(t - 1).astype(np.float32)
        flow, holds = scene.backward_flow(t)
        assert 0.8 < holds.mean() < 1.0  # the disc uncovers background, the pan brings in an edge
        moved = np.abs(now - warp_backward(before, flow, "lanczos")).mean(-1)
        still = np.abs(now - before).mean(-1)
        assert moved[holds].mean() < 2.0, t  # levels of 255: resampling only
        assert still[holds].mean() > 4 * moved[holds].mean(), t
        # Where it does not hold (what the disc uncovered), the previous frame showed something else.
        uncovered = ~holds & (np.abs(flow).sum(-1) < 5)
        if uncovered.any():
            assert moved[uncovered].mean() > 3 * moved[holds].mean(), t


def test_the_object_crosses_the_frame_and_the_camera_turns_back():
    scene = PhotoScene(_photo(480, 360, 3), _photo(200, 200, 4), 160, 90, 20)
    xs = [scene.object_centre(t)[0] for t in range(20)]
    assert xs[0] > 0.7 * 160 and xs[-1] < 0.4 * 160 and all(b < a for a, b in zip(xs, xs[1:]))
    # The camera goes out and comes back, so a long clip never runs off the photograph.
    assert np.allclose(scene.camera(0), scene.camera(19), atol=1e-6)


def test_the_fine_flow_follows_the_true_motion_closer_than_medium():
    from stylepipe.flow import FlowEstimator

    scene = PhotoScene(_photo(480, 360, 5), _photo(200, 200, 6), 192, 108, 12, pan=(0.01, 0.004), zoom=1.01, turn=0.5)
    errors = {}
    for preset in ("medium", "fine"):
        estimator, total = FlowEstimator("dis", preset), []
        for t in (2, 5, 9):
            truth, holds = scene.backward_flow(t)
            flow = estimator(scene.render(t), scene.render(t - 1))
            total.append(np.hypot(*(flow - truth).transpose(2, 0, 1))[holds].mean())
        errors[preset] = float(np.mean(total))
    assert errors["fine"] < 0.75 * errors["medium"], errors


def test_the_fine_flow_is_smoother_where_the_picture_is_flat_and_stays_sharp_at_a_moving_rim():
    from stylepipe.flow import SHARP_DIS, FlowEstimator, dis_flow, flat_share

    # A sky-like picture: very soft, with the grain of a compressed video, different in every frame.
    sky = cv2.GaussianBlur(painterly_frame(480, 360, 0.4, seed=3), (0, 0), 8)
    disc = _photo(200, 200, 6)
    grain = np.random.default_rng(0)
    errors: dict[tuple[str, str], list[float]] = {}
    for picture, background in (("sky", sky), ("painting", _photo(480, 360, 5))):
        scene = PhotoScene(background, disc, 192, 108, 12, pan=(0.01, 0.004), zoom=1.01, turn=0.5)
        yy, xx = np.mgrid[0:108, 0:192]
        for t in (2, 5, 9):
            frames = [np.clip(scene.render(k) + grain.normal(0, 1.0, (108, 192, 1)), 0, 255).astype(np.uint8) for k in (t, t - 1)]
            truth, holds = scene.backward_flow(t)
            cx, cy = scene.object_centre(t)
            rim = holds & (np.abs(np.hypot(xx - cx, yy - cy) - scene.radius) <= 4)
            grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
            sharp = dis_flow(*grey, SHARP_DIS)
            for name, flow in (("fine", FlowEstimator("dis", "fine")(*frames)), ("sharp", sharp)):
                error = np.hypot(*(flow - truth).transpose(2, 0, 1))
                errors.setdefault((picture, name), []).append(float(error[holds & ~rim].mean()))
                errors.setdefault((picture + " rim", name), []).append(float(error[rim].mean()))
            if picture == "sky" and t == 5:
                share = flat_share(grey[0])
                assert share[rim].mean() < 0.5 < share[holds & ~rim].mean(), "the smooth flow in the sky, not at the disc's rim"
    mean = {key: float(np.mean(value)) for key, value in errors.items()}
    assert mean["sky", "fine"] < 0.9 * mean["sky", "sharp"], mean  # measured 0.86x
    assert mean["painting rim", "fine"] < 1.15 * mean["painting rim", "sharp"], mean


def test_the_reports_own_flow_rates_strokes_that_follow_the_motion_as_the_truth_does_and_strokes_held_still_as_flicker():
    from stylepipe.flow import warping_error
    from stylepipe.jobs.temporal import report_flow

    photo, disc = _photo(480, 360, 5), _photo(200, 200, 6)
    # "Stylised" frames whose strokes move exactly with the scene: the same camera over a photo with strokes painted in.
    strokes = np.clip(photo.astype(np.int16) + (painterly_frame(480, 360, 1.3, seed=9).astype(np.int16) - 128) // 2, 0, 255).astype(np.uint8)
    content = PhotoScene(photo, disc, 192, 108, 8)
    stylised = PhotoScene(strokes, disc, 192, 108, 8)
    for t in (2, 5):
        frames = {"content": (content.render(t), content.render(t - 1)), "stylised": (stylised.render(t), stylised.render(t - 1))}
        # Held still: frame t repeats frame t-1's strokes where the content moved on (a blend along a zero flow).
        frames["held still"] = (stylised.render(t - 1), stylised.render(t - 1))
        truth = {name: warping_error(*pair, *content.backward_flow(t)) for name, pair in frames.items()}
        bwd, mask = report_flow(*frames["content"])
        measured = {name: warping_error(*pair, bwd, mask) for name, pair in frames.items()}
        assert truth["stylised"] / 1.5 < measured["stylised"] < truth["stylised"] * 1.5, (t, truth, measured)
        assert measured["held still"] > 5 * measured["stylised"], (t, measured)


def test_the_delivered_video_is_measured_with_the_reports_flow_steady_when_it_follows_the_motion(tmp_path):
    import json
    from fractions import Fraction

    from stylepipe.demo import pipe_frames_to_h264
    from stylepipe.frames import write_rgb
    from stylepipe.frames import chunk_layout
    from stylepipe.jobs.temporal import delivered_report, report_flows_job

    scene = PhotoScene(_photo(480, 360, 5), _photo(200, 200, 6), 96, 64, 8)
    content = [scene.render(t) for t in range(8)]
    frames_dir = tmp_path / "frames"
    (frames_dir / "chunk_0000").mkdir(parents=True)
    for t, frame in enumerate(content):
        write_rgb(frames_dir / "chunk_0000" / f"{t:06d}.jpg", frame)
    shots = tmp_path / "shots.json"
    shots.write_text(json.dumps({"shots": [[0, 4], [4, 8]]}))
    flows = tmp_path / "report_flows.npz"
    report_flows_job(str(frames_dir), 8, str(shots), chunk_layout([[0, 4], [4, 8]], 8), str(flows), threads=2)
    steady, flickering = tmp_path / "steady.mp4", tmp_path / "flickering.mp4"
    pipe_frames_to_h264([], content, (96, 64), Fraction(8), steady)
    # The same pictures, every other one brighter: flicker the motion does not explain.
    pipe_frames_to_h264([], [np.clip(f.astype(int) + 40 * (t % 2), 0, 255).astype(np.uint8) for t, f in enumerate(content)],
                        (96, 64), Fraction(8), flickering)
    reports = {name: delivered_report(video, str(frames_dir), 8, str(flows), str(tmp_path / f"{name}.json"), threads=2)
               for name, video in (("steady", steady), ("flickering", flickering))}
    assert reports["steady"]["delivered_per_frame"][0] is None and reports["steady"]["delivered_per_frame"][4] is None, "cuts"
    assert sum(value is not None for value in reports["steady"]["delivered_per_frame"]) == 6
    assert reports["steady"]["ratio_delivered_to_input"] < 2
    assert reports["flickering"]["ratio_delivered_to_input"] > 10 * reports["steady"]["ratio_delivered_to_input"]
    assert json.loads((tmp_path / "steady.json").read_text())["delivered_mean"] == reports["steady"]["delivered_mean"]


def test_report_flows_that_lack_a_measured_pair_are_set_aside_with_one_line(tmp_path):
    from stylepipe.errors import StylepipeError
    from stylepipe.flow import FlowWriter
    from stylepipe.jobs.temporal import report_flows

    path = tmp_path / "report_flows.npz"
    with FlowWriter(path) as writer:
        for t in (1, 2):
            writer.add({f"bwd_1_{t}": np.zeros((4, 6, 2), np.int16), f"reliable_1_{t}": np.ones((4, 6), bool)})
    assert report_flows(str(path), [1, 2]).frames(1) == [1, 2]
    with pytest.raises(StylepipeError, match="ending at frame 5 .*set aside"):
        report_flows(str(path), [1, 2, 5])
    assert not path.exists() and len(list(tmp_path.glob(".report_flows.npz.damaged-*"))) == 1
