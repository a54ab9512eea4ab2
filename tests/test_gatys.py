from __future__ import annotations

import pytest
import torch

from stylepipe import lossnet
from stylepipe.demo import Scene, painterly_frame
from stylepipe.gatys import GatysSettings, keep_content_colours, optimise_frame, to_tensor, to_uint8
from stylepipe.losses import ContentLoss, StyleLoss, TemporalLoss, gram_matrix


@pytest.fixture(scope="module")
def net():
    state, info = lossnet.fetch_named_weights("random")
    return lossnet.VGGFeatures(state, info, lossnet.STYLE_LAYERS["vgg16"] + lossnet.CONTENT_LAYERS["vgg16"])


def _style_loss(net, image, grams):
    features = net(image)
    return sum(StyleLoss(grams[layer])(features[layer]).item() for layer in grams)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_few_iterations_move_the_frame_towards_the_style(net, optimizer):
    content = to_tensor(Scene(32, 24, 2).render(0), "cpu")
    style = to_tensor(painterly_frame(32, 24, 0.5, seed=2), "cpu")
    with torch.no_grad():
        grams = {layer: gram_matrix(f) for layer, f in net(style).items() if layer in lossnet.STYLE_LAYERS["vgg16"]}
    settings = GatysSettings(optimizer=optimizer, style_weight=1e4, learning_rate=8.0)
    result = optimise_frame(net, content, grams, content, settings, iterations=10)
    with torch.no_grad():
        assert _style_loss(net, result.image, grams) < 0.5 * _style_loss(net, content, grams)
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    assert result.iterations == 10 and result.seconds > 0


def test_preserve_colours_keeps_content_chroma():
    content = torch.rand(1, 3, 8, 8)
    stylised = torch.rand(1, 3, 8, 8) * 0.2 + 0.4
    mixed = keep_content_colours(stylised, content)
    luma = lambda t: 0.299 * t[:, 0] + 0.587 * t[:, 1] + 0.114 * t[:, 2]  # noqa: E731
    inside = (mixed > 0.001).all(1) & (mixed < 0.999).all(1)
    torch.testing.assert_close((mixed - content)[:, 0][inside], (mixed - content)[:, 1][inside])
    torch.testing.assert_close(luma(mixed)[inside], luma(stylised)[inside])


def test_losses_keep_targets_as_buffers():
    target = torch.randn(1, 4, 3, 3)
    loss = ContentLoss(target)
    assert "target" in dict(loss.named_buffers())
    assert loss(target).item() == 0.0
    temporal = TemporalLoss(torch.zeros(1, 3, 2, 2), torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]]))
    image = torch.ones(1, 3, 2, 2) * 2
    # only the one reliable pixel counts: 3 channels * 4 / 12 elements
    assert temporal(image).item() == pytest.approx(1.0)


def test_uint8_round_trip():
    frame = Scene(16, 12, 1).render(0)
    assert (to_uint8(to_tensor(frame, "cpu")) == frame).all()
