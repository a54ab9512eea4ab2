"""The fidelity metric: zero against itself, larger against something else, through the CLI users run."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from stylepipe.cli import main
from stylepipe.demo import Scene, painterly_frame
from videotools import write_timed_clip


def _fidelity(capsys, video, content, style) -> dict:
    assert main(["metrics", "fidelity", str(video), "--content", str(content), "--style", str(style), "--weights", "random", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_fidelity_is_zero_against_itself_and_grows_against_another_picture(tmp_path, capsys):
    painting = painterly_frame(64, 48, 0.3, seed=4)
    style = tmp_path / "style.png"
    Image.fromarray(painting).save(style)
    still = tmp_path / "still.mp4"
    write_timed_clip(still, [i / 8 for i in range(4)], pictures=[painting] * 4)
    scene = tmp_path / "scene.mp4"
    write_timed_clip(scene, [i / 8 for i in range(4)], pictures=[Scene(64, 48, 4, seed=2).render(t) for t in range(4)])

    same = _fidelity(capsys, still, still, style)
    assert len(same["per_frame"]) == 4
    assert same["content_distance_mean"] == 0.0
    assert same["style_distance_mean"] < 0.05, "a video of the painting has (nearly) the painting's Grams"

    other = _fidelity(capsys, scene, still, style)
    assert other["content_distance_mean"] > 0.1
    assert other["style_distance_mean"] > 3 * same["style_distance_mean"]
    assert np.isclose(other["content_distance_first_third"], other["per_frame"][0]["content_distance"])


def test_fidelity_names_a_mismatched_content(tmp_path, capsys):
    style = tmp_path / "style.png"
    Image.fromarray(painterly_frame(64, 48, 0.3, seed=4)).save(style)
    four, six = tmp_path / "four.mp4", tmp_path / "six.mp4"
    write_timed_clip(four, [i / 8 for i in range(4)])
    write_timed_clip(six, [i / 8 for i in range(6)])
    assert main(["metrics", "fidelity", str(four), "--content", str(six), "--style", str(style), "--weights", "random"]) == 2
    assert capsys.readouterr().err.strip() == f"stylepipe: {six}: 6 frames, but {four} has 4"
