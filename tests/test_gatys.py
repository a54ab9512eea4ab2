from __future__ import annotations

import numpy as np
import pytest
import torch

from stylepipe import lossnet
from stylepipe.demo import Scene, painterly_frame
from stylepipe.gatys import GatysSettings, keep_content_colors, optimize_frame, to_tensor, to_uint8
from stylepipe.losses import ContentLoss, StyleLoss, TemporalLoss, gram_matrix


@pytest.fixture(scope="module")
def net(device):
    state, info = lossnet.fetch_named_weights("random")
    return lossnet.VGGFeatures(state, info, lossnet.STYLE_LAYERS["vgg16"] + lossnet.CONTENT_LAYERS["vgg16"]).to(device)


def _style_loss(net, image, grams):
    features = net(image)
    return sum(StyleLoss(grams[layer])(features[layer]).item() for layer in grams)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_few_iterations_move_the_frame_towards_the_style(net, optimizer, device):
    content = to_tensor(Scene(32, 24, 2).render(0), device)
    style = to_tensor(painterly_frame(32, 24, 0.5, seed=2), device)
    with torch.no_grad():
        grams = {layer: gram_matrix(f) for layer, f in net(style).items() if layer in lossnet.STYLE_LAYERS["vgg16"]}
    settings = GatysSettings(optimizer=optimizer, style_weight=1e4, learning_rate=8.0)
    result = optimize_frame(net, content, grams, content, settings, iterations=10)
    with torch.no_grad():
        assert _style_loss(net, result.image, grams) < 0.5 * _style_loss(net, content, grams)
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    assert result.iterations == 10 and result.seconds > 0


def test_preserve_colors_keeps_content_chroma():
    content = torch.rand(1, 3, 8, 8)
    stylized = torch.rand(1, 3, 8, 8) * 0.2 + 0.4
    mixed = keep_content_colors(stylized, content)
    luma = lambda t: 0.299 * t[:, 0] + 0.587 * t[:, 1] + 0.114 * t[:, 2]  # noqa: E731
    inside = (mixed > 0.001).all(1) & (mixed < 0.999).all(1)
    torch.testing.assert_close((mixed - content)[:, 0][inside], (mixed - content)[:, 1][inside])
    torch.testing.assert_close(luma(mixed)[inside], luma(stylized)[inside])


def test_losses_keep_targets_as_buffers():
    target = torch.randn(1, 4, 3, 3)
    loss = ContentLoss(target)
    assert "target" in dict(loss.named_buffers())
    assert loss(target).item() == 0.0
    temporal = TemporalLoss(torch.zeros(1, 3, 2, 2), torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]]))
    image = torch.ones(1, 3, 2, 2) * 2
    # only the one reliable pixel counts: 3 channels * 4 / 12 elements
    assert temporal(image).item() == pytest.approx(1.0)


def test_the_relative_style_loss_weighs_a_faint_layer_and_a_dark_painting_alike():
    # Two layers whose activations differ 1000x in size, each 10% off its target: absolute, the faint layer's error is
    # 1e-12 of the loud one's; relative, they are equal, and scaling the painting's activations changes nothing.
    torch.manual_seed(0)
    errors = {}
    for size in (1.0, 1e-3):
        target = torch.rand(1, 8, 6, 6) * size
        features = target * 1.1
        errors[size] = (StyleLoss(gram_matrix(target))(features).item(),
                        StyleLoss(gram_matrix(target), relative=True)(features).item())
    assert errors[1e-3][0] < 1e-9 * errors[1.0][0]
    assert errors[1e-3][1] == pytest.approx(errors[1.0][1], rel=1e-3)
    assert errors[1.0][1] == pytest.approx(((1.1**2 - 1) ** 2), rel=1e-3)
    assert "scale" in dict(StyleLoss(gram_matrix(target), relative=True).named_buffers())


def test_uint8_round_trip():
    frame = Scene(16, 12, 1).render(0)
    assert (to_uint8(to_tensor(frame, "cpu")) == frame).all()


def _grams(net, image):
    with torch.no_grad():
        return {layer: gram_matrix(f) for layer, f in net(image).items() if layer in lossnet.STYLE_LAYERS["vgg16"]}


def test_coarse_to_fine_runs_every_scale_and_returns_full_size(net, device):
    from stylepipe.gatys import optimize_coarse_to_fine

    content = to_tensor(Scene(128, 96, 2).render(0), device)
    style = to_tensor(painterly_frame(128, 96, 0.5, seed=2), device)
    asked: list[float] = []

    def grams_at(scale):
        asked.append(scale)
        size = (round(96 * scale), round(128 * scale))
        return _grams(net, torch.nn.functional.interpolate(style, size=size, mode="area"))

    settings = GatysSettings(style_weight=1e4, scales=(0.5, 1.0), scale_iterations=(6, 3))
    result = optimize_coarse_to_fine(net, content, grams_at, settings, torch.Generator().manual_seed(0))
    assert asked == [0.5, 1.0]
    assert result.image.shape == content.shape and result.iterations == 9
    with torch.no_grad():
        assert _style_loss(net, result.image, grams_at(1.0)) < 0.7 * _style_loss(net, content, grams_at(1.0))


@pytest.mark.parametrize(("block", "key"), [({"scales": [0.5, 0.25, 1.0]}, "gatys.scales"), ({"scales": [0.5]}, "gatys.scales"),
                                            ({"scales": [0.5, 1.0], "scale_iterations": [10]}, "gatys.scale_iterations")])
def test_scales_that_do_not_fit_are_refused_naming_the_key(block, key):
    from stylepipe.errors import StylepipeError

    with pytest.raises(StylepipeError, match=f"config key '{key}'"):
        GatysSettings.from_config(block)


def test_one_scale_is_the_plain_first_frame():
    settings = GatysSettings.from_config({"scales": [1.0], "first_iterations": 70})
    assert settings.first_frame_schedule() == ((1.0, 70),)


def test_a_coarse_scale_too_small_for_vgg_gives_its_iterations_to_the_next():
    settings = GatysSettings.from_config({"scales": [0.25, 0.5, 1.0], "scale_iterations": [30, 20, 10]})
    assert settings.first_frame_schedule((640, 360)) == ((0.25, 30), (0.5, 20), (1.0, 10))
    assert settings.first_frame_schedule((192, 108)) == ((0.5, 50), (1.0, 10))
    assert settings.first_frame_schedule((64, 48)) == ((1.0, 60),)


def test_style_targets_shrink_the_style_with_the_scale(net, tmp_path, device):
    from stylepipe.frames import write_rgb
    from stylepipe.style_targets import StyleTargets

    (tmp_path / "style_0").mkdir()
    write_rgb(tmp_path / "style_0/000000.png", painterly_frame(64, 48, 0.5, seed=4))
    index = {"styles": [{"folder": "style_0", "weight": 1.0, "frames": 1, "index": [0]}]}
    layers = lossnet.STYLE_LAYERS["vgg16"]
    full = StyleTargets(net, tmp_path, index, layers, 0, device).grams_for(0)
    half = StyleTargets(net, tmp_path, index, layers, 0, device).grams_for(0, 0.5)
    styled = StyleTargets(net, tmp_path, index, layers, 0, device, style_scale=0.5).grams_for(0)
    assert not torch.allclose(full["relu2_2"], half["relu2_2"])
    assert torch.allclose(half["relu2_2"], styled["relu2_2"]), "scale and style_scale multiply"


def test_the_stylization_is_carried_along_the_flow_and_laid_on_the_new_content(device):
    from stylepipe.gatys import temporal_terms

    # The previous output is its content frame plus a stroke pattern. The new frame's content is the old one moved
    # 3 px to the right, and brighter by 40 where the light changed (its right half). Carrying the output itself
    # would drag the old light along; carrying the stylisation lays the strokes on the new light.
    height, width = 16, 24
    rng = np.random.default_rng(0)
    old_content = rng.integers(60, 120, (height, width, 3), dtype=np.uint8)
    strokes = rng.integers(-30, 31, (height, width, 3))
    previous = np.clip(old_content.astype(int) + strokes, 0, 255).astype(np.uint8)
    flow = np.zeros((height, width, 2), np.float32)
    flow[..., 0] = -3.0  # pixel x of the new frame was at x - 3
    new_content = np.zeros_like(old_content)
    new_content[:, 3:] = old_content[:, :-3]
    new_content[:, width // 2 :] += 40
    reliable = np.ones((height, width), np.float32)
    reliable[:, :3] = 0  # came into view

    start, loss = temporal_terms(to_tensor(new_content, device), {1: previous}, {1: old_content}, {1: flow}, {1: reliable},
                                 GatysSettings(warp="bilinear", uncovered_start="content"))
    expected = np.clip(new_content[:, 3:].astype(int) + strokes[:, :-3], 0, 255)
    assert np.abs(to_uint8(start)[:, 3:].astype(int) - expected).max() <= 1
    assert np.array_equal(to_uint8(start)[:, :3], new_content[:, :3])
    # The temporal loss holds the reliable pixels to that and leaves the new columns free.
    target = to_tensor(np.clip(np.pad(expected, ((0, 0), (3, 0), (0, 0))), 0, 255).astype(np.uint8), device) * 255
    assert loss(target).item() == pytest.approx(0, abs=1e-2)
    assert loss(to_tensor(previous, device) * 255).item() > 100


def test_new_pixels_start_from_their_alike_stylized_neighbors(device):
    from stylepipe.gatys import temporal_terms

    # A pan brought in the two right-hand columns. The content frame's left half is red, its right half green; the
    # previous output painted them 40 and 210.
    height, width = 8, 32
    content_frame = np.zeros((height, width, 3), np.uint8)
    content_frame[:, : width // 2, 0] = 200
    content_frame[:, width // 2 :, 1] = 200
    previous = np.where(np.arange(width)[None, :, None] < width // 2, 40, 210).astype(np.uint8).repeat(3, 2).repeat(height, 0)
    reliable = np.ones((height, width), bool)
    reliable[:, -2:] = False
    settings = GatysSettings(warp="bilinear")
    start, _ = temporal_terms(to_tensor(content_frame, device), {1: previous}, {1: content_frame},
                              {1: np.zeros((height, width, 2), np.float32)}, {1: reliable}, settings)
    assert settings.uncovered_start == "neighbours"
    assert torch.allclose(start, to_tensor(previous, device), atol=1 / 255)
