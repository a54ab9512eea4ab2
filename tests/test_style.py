from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import torch
from PIL import Image

from stylepipe import lossnet
from stylepipe.demo import write_style_video
from stylepipe.losses import gram_matrix
from stylepipe.style import extract_style_frames, parse_style_sources, style_frame_index
from stylepipe.style_targets import StyleTargets


def test_stretch_spans_the_whole_style_video():
    assert style_frame_index(5, Fraction(10), 3, Fraction(5), "stretch") == [0, 0, 1, 2, 2]


def test_loop_and_hold_follow_time():
    # content at 10 fps, style at 5 fps with 3 frames: style frame changes every second content frame
    assert style_frame_index(8, Fraction(10), 3, Fraction(5), "loop") == [0, 0, 1, 1, 2, 2, 0, 0]
    assert style_frame_index(8, Fraction(10), 3, Fraction(5), "hold") == [0, 0, 1, 1, 2, 2, 2, 2]


def test_a_single_image_is_used_for_every_frame():
    assert style_frame_index(4, Fraction(24), 1, None, "loop") == [0, 0, 0, 0]


def test_weights_are_normalized():
    sources = parse_style_sources(["a.png", {"path": "b.mp4", "weight": 3}])
    assert [s.weight for s in sources] == [0.25, 0.75]
    assert sources[0].is_image and not sources[1].is_image


def test_gram_window_averages_neighboring_style_frames(tmp_path, device):
    video = tmp_path / "style.mp4"
    write_style_video(video, 32, 24, 5, Fraction(5))
    index = extract_style_frames(
        parse_style_sources(str(video)), tmp_path / "style", tmp_path / "index.json",
        width=32, content_frames=5, content_fps=Fraction(5), match="stretch",
    )
    assert json.loads((tmp_path / "index.json").read_text()) == index
    state, info = lossnet.fetch_named_weights("random")
    net = lossnet.VGGFeatures(state, info, ("relu1_2", "relu2_2")).to(device)
    windowed = StyleTargets(net, tmp_path / "style", index, ("relu1_2", "relu2_2"), 1, device)
    single = StyleTargets(net, tmp_path / "style", index, ("relu1_2", "relu2_2"), 0, device)
    for layer in ("relu1_2", "relu2_2"):
        expected = sum(single.grams_for(j)[layer] for j in (1, 2, 3)) / 3
        torch.testing.assert_close(windowed.grams_for(2)[layer], expected)
        # At the edge the window is cut, not padded.
        torch.testing.assert_close(windowed.grams_for(0)[layer], (single.grams_for(0)[layer] + single.grams_for(1)[layer]) / 2)
    assert not torch.allclose(single.grams_for(0)["relu1_2"], single.grams_for(4)["relu1_2"])


def test_rgba_and_greyscale_styles_become_rgb_frames(tmp_path):
    rgba = tmp_path / "a.png"
    Image.new("RGBA", (40, 20), (10, 200, 30, 100)).save(rgba)
    grey = tmp_path / "g.png"
    Image.new("L", (30, 30), 77).save(grey)
    extract_style_frames(
        parse_style_sources([str(rgba), str(grey)]), tmp_path / "style", tmp_path / "index.json",
        width=16, content_frames=3, content_fps=Fraction(8), match="loop",
    )
    for folder, size in (("style_0", (8, 16, 3)), ("style_1", (16, 16, 3))):
        frame = np.asarray(Image.open(tmp_path / "style" / folder / "000000.png"))
        assert frame.shape == size


def test_gram_matrix_matches_definition():
    features = torch.randn(1, 3, 4, 5)
    flat = features.reshape(3, 20)
    torch.testing.assert_close(gram_matrix(features)[0], flat @ flat.T / 60)
