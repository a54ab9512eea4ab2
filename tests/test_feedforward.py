"""Feed-forward network: training, checkpoints, resume, inference and post-hoc stabilisation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import write_malicious_pth
from stylepipe import lossnet
from stylepipe.checkpoint import load_model, read_checkpoint, save_checkpoint
from stylepipe.demo import Scene, painterly_frame
from stylepipe.errors import StylepipeError
from stylepipe.feedforward import prepare, stylize_batches
from stylepipe.flow import warp_backward, warp_backward_torch, warping_error
from stylepipe.temporal import blend_share, blend_with_previous, content_change
from stylepipe.train import ANCHOR_POOL, TrainSettings, learning_rate, painting_at_training_scale, train
from stylepipe.transformer import TransformerNet


@pytest.fixture(scope="module")
def net(device):
    state, info = lossnet.fetch_named_weights("random")
    return lossnet.VGGFeatures(state, info, lossnet.STYLE_LAYERS["vgg16"] + lossnet.CONTENT_LAYERS["vgg16"]).to(device)


@pytest.fixture(scope="module")
def clip():
    scene = Scene(40, 40, 6)
    return [np.stack([scene.render(t) for t in range(6)])]


class Interrupted(Exception):
    """Stands in for Ctrl-C: pytest treats a real KeyboardInterrupt as the end of the whole session."""


SETTINGS = TrainSettings(arch="johnson", steps=6, batch_size=1, image_size=40, lr=5e-3, checkpoint_every=2)


def _train(net, clip, folder, settings=SETTINGS, on_step=None, header=None, start=None):
    style = painterly_frame(40, 40, 0.5, seed=4)
    return train(net, style, clip, settings, folder / "model.safetensors", folder / "model.partial.safetensors",
                 header or {"run": "test"}, log=lambda _: None, on_step=on_step, model=start() if start else None)


def _fine_tuned_start() -> torch.nn.Module:
    """A FineTunedTransformer as `arch: finetuned` starts (its weights random here: what is tested is the training)."""
    from stylepipe.arbitrary import FineTunedTransformer

    torch.manual_seed(3)
    return FineTunedTransformer(style=torch.randn(1, 100))


def test_a_few_training_steps_lower_the_loss(net, clip, tmp_path):
    final = _train(net, clip, tmp_path, TrainSettings(arch="johnson", steps=12, batch_size=2, image_size=40, lr=1e-2))
    losses = final["losses"]
    assert len(losses) == 12
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])


@pytest.mark.parametrize("start", [None, _fine_tuned_start], ids=["from scratch", "fine-tuned"])
def test_interrupted_training_resumes_at_the_saved_step_and_matches_an_uninterrupted_run(net, clip, tmp_path, device, start):
    whole = _train(net, clip, tmp_path / "whole", start=start)
    steps_run = []

    def stop_at_five(step, loss):
        steps_run.append(step)
        if step == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        _train(net, clip, tmp_path / "cut", on_step=stop_at_five, start=start)
    partial = tmp_path / "cut/model.partial.safetensors"
    assert read_checkpoint(partial)[1]["steps"] == 4
    steps_run.clear()
    resumed = _train(net, clip, tmp_path / "cut", on_step=lambda step, loss: steps_run.append(step), start=start)
    assert steps_run == [5, 6]
    assert not partial.exists()
    a, _ = read_checkpoint(tmp_path / "whole/model.safetensors")
    b, _ = read_checkpoint(tmp_path / "cut/model.safetensors")
    if start is not None:
        assert not torch.equal(a["style"], start().style.detach()), "the style vector trains too"
    if device == "cpu":
        assert resumed["losses"] == whole["losses"]
        assert all(torch.equal(a[k], b[k]) for k in a)
    else:
        # cuDNN's convolution backward adds in no fixed order, so even two uninterrupted CUDA runs differ in the
        # last bits (on an H200 the second loss differed by 1.3e-5 relative); resume must still land on the same model.
        assert resumed["losses"] == pytest.approx(whole["losses"], rel=1e-3)
        assert all((a[k] - b[k]).abs().mean() <= 1e-2 * a[k].abs().mean() + 1e-6 for k in a)


def test_a_checkpoint_from_another_run_is_not_resumed(net, clip, tmp_path):
    def stop_at_three(step, loss):
        if step == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        _train(net, clip, tmp_path, on_step=stop_at_three)
    assert (tmp_path / "model.partial.safetensors").is_file()
    steps_run = []
    _train(net, clip, tmp_path, header={"run": "other"}, on_step=lambda step, loss: steps_run.append(step))
    assert steps_run[0] == 1


def test_checkpoint_round_trip_is_bit_for_bit(tmp_path):
    torch.manual_seed(1)
    model = TransformerNet("johnson")
    header = {"arch": "johnson", "style": "s.png", "weights": {"source": "x"}, "steps": 7, "losses": [3.0, 2.0]}
    save_checkpoint(tmp_path / "m.safetensors", model.state_dict(), header)
    loaded, loaded_header = load_model(tmp_path / "m.safetensors")
    assert loaded_header == header
    original = model.state_dict()
    assert all(torch.equal(original[k], v) for k, v in loaded.state_dict().items())


def test_a_model_of_a_removed_architecture_stops_with_one_line_naming_the_file(tmp_path):
    # `fast` was an architecture until it was removed; its models' headers still say so.
    save_checkpoint(tmp_path / "old.safetensors", TransformerNet("johnson").state_dict(), {"arch": "fast", "steps": 1})
    with pytest.raises(StylepipeError, match=r"old.safetensors: the model's header names arch 'fast', which is not one of finetuned, johnson$"):
        load_model(tmp_path / "old.safetensors")


def test_model_pth_holding_pickled_code_is_refused(tmp_path):
    marker = write_malicious_pth(tmp_path / "model.pth", "encoder.0.conv.weight")
    with pytest.raises(StylepipeError, match="model.pth: cannot read model"):
        load_model(tmp_path / "model.pth")
    assert not marker.exists()


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(StylepipeError, match=r"nope.safetensors: model file not found; leave feedforward.model empty"):
        load_model(tmp_path / "nope.safetensors")


def test_plain_state_dict_pth_loads(tmp_path):
    model = TransformerNet("johnson")
    torch.save(model.state_dict(), tmp_path / "plain.pth")
    loaded, _ = load_model(tmp_path / "plain.pth")
    assert loaded.arch == "johnson"


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_inference_keeps_size_and_matches_fp32_closely(precision, device):
    torch.manual_seed(0)
    model = prepare(TransformerNet("johnson"), device)
    frames = [Scene(34, 22, 3).render(t) for t in range(3)]  # odd sizes come back unchanged
    out = list(stylize_batches(model, frames, device, 2, precision))
    reference = list(stylize_batches(model, frames, device, 1, "fp32"))
    assert [o.shape for o in out] == [(22, 34, 3)] * 3 and out[0].dtype == np.uint8
    assert max(np.abs(o.astype(int) - r).mean() for o, r in zip(out, reference)) < (1 if precision == "fp32" else 4)


def test_torch_warp_matches_the_opencv_warp(device):
    scene = Scene(48, 32, 3)
    image = scene.render(1)
    flow = scene.backward_flow(2) + np.float32(0.3)
    expected = warp_backward(image.astype(np.float32), flow)
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float().to(device)
    got = warp_backward_torch(tensor, torch.from_numpy(flow)[None].to(device))[0].permute(1, 2, 0).cpu().numpy()
    assert np.abs(got - expected)[2:-2, 2:-2].max() < 1e-3


def test_blend_stabilizer_mixes_only_reliable_pixels():
    fresh = np.full((4, 4, 3), 200, np.uint8)
    previous = np.full((4, 4, 3), 100, np.uint8)
    reliable = np.zeros((4, 4), bool)
    reliable[:2] = True
    out = blend_with_previous(fresh, previous, np.zeros((4, 4, 2), np.float32), blend_share(reliable, 0.6), "bilinear")
    assert (out[:2] == 140).all()  # 0.4 * 200 + 0.6 * 100
    assert (out[2:] == 200).all()  # disoccluded or unreliable: the fresh frame, no ghost


def test_content_change_follows_the_motion():
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (40, 60, 3)).astype(np.float32), (0, 0), 1.5)
    previous = np.clip(texture, 0, 255).astype(np.uint8)
    moved = np.roll(previous, 3, axis=1)  # everything moved 3 px right: pixel x of the new frame was at x - 3
    flow = np.zeros((40, 60, 2), np.float32)
    flow[..., 0] = -3
    inner = (slice(4, -4), slice(8, -4))
    assert content_change(moved, previous, flow)[inner].max() < 2
    assert content_change(moved, previous, np.zeros_like(flow))[inner].mean() > 8


def _stabilize(fresh: list[np.ndarray], content: list[np.ndarray], strength: float, change_scale: float) -> list[np.ndarray]:
    """The blend along a still shot (zero flow, every pixel reliable), as the stabilise job runs it."""
    still = np.zeros((*fresh[0].shape[:2], 2), np.float32)
    reliable = np.ones(fresh[0].shape[:2], bool)
    out = [fresh[0]]
    for t in range(1, len(fresh)):
        change = content_change(content[t], content[t - 1], still)
        out.append(blend_with_previous(fresh[t], out[-1], still, blend_share(reliable, strength, change, change_scale)))
    return out


def test_blend_holds_a_still_scene_hard_and_lets_a_change_through_at_once():
    # A feed-forward network re-invents its texture every frame from sensor noise: fresh frames flicker by 30 levels
    # where the content moves by 2. At frame 10 a light comes on over the right half.
    rng = np.random.default_rng(1)
    height, width, frames = 32, 48, 20
    scene = rng.integers(60, 120, (height, width, 3)).astype(np.float32)
    content, fresh = [], []
    for t in range(frames):
        lit = scene.copy()
        if t >= 10:
            lit[:, width // 2 :] += 80
        content.append(np.clip(lit + rng.normal(0, 2, lit.shape), 0, 255).astype(np.uint8))
        fresh.append(np.clip(lit + rng.normal(0, 30, lit.shape), 0, 255).astype(np.uint8))
    still = np.zeros((height, width, 2), np.float32)
    everywhere = np.ones((height, width), bool)

    def flicker(out: list[np.ndarray], ts: range) -> float:
        return float(np.mean([warping_error(out[t], out[t - 1], still, everywhere) for t in ts]))

    fixed = _stabilize(fresh, content, 0.6, 0.0)  # the blend before change_scale
    following = _stabilize(fresh, content, 0.95, 12.0)
    assert flicker(following, range(2, 10)) < 0.3 * flicker(fixed, range(2, 10))
    # The light's frame: the right half is the fresh frame's within a few levels, not a blend with the dark one.
    right = (slice(2, -2), slice(width // 2 + 3, -2))
    assert np.abs(following[10][right].astype(float) - fresh[10][right]).mean() < 4
    frozen = _stabilize(fresh, content, 0.95, 0.0)
    assert np.abs(frozen[10][right].astype(float) - fresh[10][right]).mean() > 40


def test_as_420_predicts_the_colour_a_4_2_0_video_delivers(tmp_path):
    """Training takes its style and content losses on `as_420` of the output: it must be what the encode shows."""
    import subprocess

    from stylepipe.color import as_420
    from stylepipe.video import ffmpeg_exe, iter_frames

    height, width = 48, 64
    smooth = np.zeros((height, width, 3), np.float32)
    smooth[..., 0], smooth[..., 1], smooth[..., 2] = np.linspace(40, 200, width)[None], 120, np.linspace(200, 60, height)[:, None]
    # A one-pixel colour checkerboard: what 4:2:0 removes and what a network fitted to a loss network paints.
    checker = (np.indices((height, width)).sum(0) % 2 * 2 - 1)[..., None] * np.array([60, -30, -60])
    frame = np.clip(smooth + checker, 0, 255).astype(np.uint8)
    video = tmp_path / "lossless420.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-i", "-",
                    "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p", str(video)], input=frame.tobytes() * 2, check=True)
    delivered = next(iter(iter_frames(video))).astype(np.float32)
    predicted = as_420(torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255)[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(frame - delivered).mean() > 30
    assert np.abs(predicted - delivered).mean() < 3
    flat = torch.full((1, 3, 9, 9), 0.4) * torch.tensor([1.0, 1.5, 0.5])[None, :, None, None]
    assert torch.allclose(as_420(flat), flat, atol=1e-5)


@pytest.mark.parametrize("size, expected", [((1024, 640), (410, 256)), ((1200, 1528), (256, 326)), ((100, 100), (256, 256))])
def test_the_painting_is_trained_at_its_shorter_side_scaled_to_the_crops(size, expected):
    # The starting vector of a fine-tuned network sees the painting's centre square at style_size (256), so training
    # against the painting at any other scale asks for strokes of another size than those it starts with.
    width, height = size
    painting = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert painting_at_training_scale(painting, 256).shape == (expected[1], expected[0], 3)


def test_the_anchor_holds_a_fine_tuned_network_to_its_starting_colours(net, clip, tmp_path):
    # Fine-tuned on the very frames it then renders, a network with no anchor overfitted the style loss on them and
    # lost the picture's colours (docs/feedforward.md). Measured here as the anchor measures it: 4x4 averages.
    frames = torch.from_numpy(clip[0]).permute(0, 3, 1, 2).float().div(255)
    with torch.no_grad():
        start = F.avg_pool2d(_fine_tuned_start()(frames), ANCHOR_POOL)
    drift = {}
    # The random loss network's style loss is huge, hence an anchor weight far above the config's.
    for anchor_weight in (0.0, 1e6):
        settings = TrainSettings(arch="johnson", steps=16, batch_size=1, image_size=40, lr=1e-3, temporal_weight=0.0,
                                 anchor_weight=anchor_weight)
        model = _fine_tuned_start()
        _train(net, clip, tmp_path / str(anchor_weight), settings, start=lambda: model)
        with torch.no_grad():
            drift[anchor_weight] = (F.avg_pool2d(model.eval()(frames), ANCHOR_POOL) - start).abs().mean().item() * 255
    assert drift[0.0] > 20, drift
    assert drift[1e6] < 0.25 * drift[0.0], drift


def test_adams_rate_warms_up_over_the_first_tenth_of_the_steps():
    settings = TrainSettings(steps=190, lr=1e-3)
    rates = [learning_rate(settings, step) for step in range(1, 191)]
    assert rates[0] == pytest.approx(1e-3 / 19)
    assert rates[9] == pytest.approx(1e-3 * 10 / 19)
    assert rates[18:] == [1e-3] * 172
