"""Training the feed-forward network: VGG content and style losses, TV, and Huang et al.'s temporal loss.

The temporal loss compares the outputs of consecutive frames, the earlier one warped onto the later by the
content's flow and masked by the consistency check; it is used in training only, so inference needs no flow.
"""

from __future__ import annotations

import copy
import datetime
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from stylepipe.arbitrary import FineTunedTransformer
from stylepipe.checkpoint import read_checkpoint, save_checkpoint
from stylepipe.color import as_420
from stylepipe.errors import StylepipeError
from stylepipe.flow import FlowEstimator, consistency_mask, warp_backward_torch
from stylepipe.frames import list_frames, read_rgb
from stylepipe.gatys import to_tensor
from stylepipe.lossnet import CONTENT_LAYERS, STYLE_LAYERS, VGGFeatures
from stylepipe.losses import ContentLoss, StyleLoss, TVLoss, gram_matrix, masked_mse
from stylepipe.settings import TrainSettings
from stylepipe.style import resize_rgb, style_frame_size
from stylepipe.transformer import TransformerNet
from stylepipe.video import probe, read_frames


def _square_crop(frames: np.ndarray, size: int) -> np.ndarray:
    _, height, width, _ = frames.shape
    top, left = (height - size) // 2, (width - size) // 2
    return frames[:, top : top + size, left : left + size]


def painting_at_training_scale(style: np.ndarray, image_size: int) -> np.ndarray:
    """The style image (HxWx3 uint8) with its shorter side at `image_size`: the scale whose strokes the network learns
    to paint. At the defaults it is the scale at which the arbitrary network computes the starting vector of a
    fine-tuned one (its centre square at `style_size`, 256), sized as the style frames that network reads are."""
    height, width = style.shape[:2]
    # A copy: `train` hands it to torch, which warns about the read-only array PIL gives.
    return np.array(resize_rgb(style, style_frame_size(width, height, width, short_side=image_size)))


def load_training_clips(sources: Sequence[str], image_size: int, max_frames: int) -> list[np.ndarray]:
    """Each video or frame folder as (N, S, S, 3) uint8: shorter side scaled to S, centre-cropped square."""
    clips = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files = list_frames(path) or sorted(p for p in path.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
            if not files:
                raise StylepipeError(f"{path}: no frames (.png/.jpg) in this training folder (feedforward.train.videos)")
            frames = []
            for file in files[:max_frames]:
                image = Image.fromarray(read_rgb(file))
                scale = image_size / min(image.size)
                image = image.resize((max(image_size, round(image.width * scale)), max(image_size, round(image.height * scale))), Image.Resampling.BILINEAR)
                frames.append(np.asarray(image))
            clip = _square_crop(np.stack(frames), image_size)
        else:
            meta = probe(path)
            short = min(meta.width, meta.height)
            size = (max(image_size, round(meta.width * image_size / short)), max(image_size, round(meta.height * image_size / short)))
            clip = _square_crop(read_frames(path, size, max_frames), image_size)
        if len(clip) < 2:
            raise StylepipeError(f"{source}: a training video needs at least 2 frames (feedforward.train.videos)")
        clips.append(np.ascontiguousarray(clip))
    return clips


class PairSampler:
    """Random consecutive frame pairs with the flow from the later to the earlier frame and its mask (cached)."""

    def __init__(self, clips: list[np.ndarray], seed: int) -> None:
        self.clips = clips
        self.seed = seed
        self.flow = FlowEstimator("dis", "medium")
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _flow(self, clip: int, t: int) -> tuple[np.ndarray, np.ndarray]:
        key = (clip, t)
        if key not in self._cache:
            frames = self.clips[clip]
            bwd = self.flow(frames[t], frames[t - 1])
            fwd = self.flow(frames[t - 1], frames[t])
            self._cache[key] = (bwd, consistency_mask(bwd, fwd))
        return self._cache[key]

    def sample(self, batch: int, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
        """(previous frames, frames, backward flows, masks) as float tensors, and each frame's (clip, index): the
        previous frames' first, then the frames'.

        The pairs depend only on the seed and the step, so a resumed training sees the same batches.
        """
        rng = np.random.default_rng([self.seed, step])
        previous, current, flows, masks, keys = [], [], [], [], []
        for _ in range(batch):
            clip = int(rng.integers(len(self.clips)))
            t = int(rng.integers(1, len(self.clips[clip])))
            keys.append((clip, t))
            flow, mask = self._flow(clip, t)
            previous.append(self.clips[clip][t - 1])
            current.append(self.clips[clip][t])
            flows.append(flow)
            masks.append(mask)

        def images(stack: list[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(np.stack(stack)).permute(0, 3, 1, 2).float().div(255).contiguous()

        return (images(previous), images(current), torch.from_numpy(np.stack(flows)),
                torch.from_numpy(np.stack(masks).astype(np.float32))[:, None],
                [(clip, t - 1) for clip, t in keys] + keys)


# The starting network's output is compared after this average: its colours and layout are kept, and its strokes,
# which are what flickers, are free to change.
ANCHOR_POOL = 4


class StartingPointTargets:
    """The starting network's output for each training frame, averaged over ANCHOR_POOL x ANCHOR_POOL pixels in
    0-255 levels; each frame is computed once, by a frozen copy of the network as it was before any step."""

    def __init__(self, start: torch.nn.Module, clips: list[np.ndarray], device: torch.device | str) -> None:
        self.start = copy.deepcopy(start).eval().requires_grad_(False).to(device)
        self.clips = clips
        self.device = device
        self._cache: dict[tuple[int, int], torch.Tensor] = {}

    def __call__(self, keys: Sequence[tuple[int, int]]) -> torch.Tensor:
        for key in keys:
            if key not in self._cache:
                clip, t = key
                with torch.no_grad():
                    output = self.start(to_tensor(self.clips[clip][t], self.device))
                self._cache[key] = F.avg_pool2d(output * 255, ANCHOR_POOL)[0]
        return torch.stack([self._cache[key] for key in keys])


def learning_rate(settings: TrainSettings, step: int) -> float:
    """Adam's rate at `step` (from 1): raised linearly over the first tenth of the steps. Adam's first steps move every
    weight by about the full rate whatever its gradient's size: at the full rate from step 1, fine-tuning on real
    footage raised the loss 4.3x at step 2 (docs/feedforward.md)."""
    warmup = max(1, round(settings.steps / 10))
    return settings.lr * min(1.0, step / warmup)


def _state_tensors(model: torch.nn.Module, optimizer: torch.optim.Adam) -> dict[str, torch.Tensor]:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for index, param in enumerate(model.parameters()):
        state = optimizer.state.get(param)
        if state:
            tensors[f"optim.{index}.exp_avg"] = state["exp_avg"]
            tensors[f"optim.{index}.exp_avg_sq"] = state["exp_avg_sq"]
            tensors[f"optim.{index}.step"] = torch.as_tensor(state["step"]).reshape(1).float()
    return tensors


def _restore(model: torch.nn.Module, optimizer: torch.optim.Adam, tensors: dict[str, torch.Tensor]) -> None:
    model.load_state_dict({k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")})
    for index, param in enumerate(model.parameters()):
        if f"optim.{index}.exp_avg" in tensors:
            optimizer.state[param] = {
                "step": tensors[f"optim.{index}.step"].reshape(()).clone(),
                "exp_avg": tensors[f"optim.{index}.exp_avg"].clone(),
                "exp_avg_sq": tensors[f"optim.{index}.exp_avg_sq"].clone(),
            }


def train(
    net: VGGFeatures,
    style_image: np.ndarray,
    clips: list[np.ndarray],
    settings: TrainSettings,
    out_path: str | Path,
    partial_path: str | Path,
    header: dict[str, Any],
    log: Callable[[str], None] = print,
    on_step: Callable[[int, float], None] | None = None,
    model: torch.nn.Module | None = None,
) -> dict[str, Any]:
    """Train and save the model at `out_path`; a checkpoint at `partial_path` every `checkpoint_every` steps.

    `model` is where training starts (a pretrained network to fine-tune); by default a new TransformerNet of
    `settings.arch`. If `partial_path` holds a checkpoint of the same run (same header), training continues from its step.
    """
    torch.manual_seed(settings.seed)
    device = net.mean.device
    # Taken before a checkpoint is restored: the anchor is the network as training started, on every resume too.
    # Fine-tuned on the clip it then renders with no anchor, the network overfitted the style loss on those very
    # frames: embossed relief over grey, the flag and the suit's orange gone (docs/feedforward.md).
    anchor = StartingPointTargets(model, clips, device) if model is not None and settings.anchor_weight > 0 else None
    model = (model if model is not None else TransformerNet(settings.arch)).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    arch = net.info.arch
    style = to_tensor(style_image, device)
    with torch.no_grad():
        features = net(style)
    # Relative: with neural-style's absolute loss the deep layers, which carry the painting's larger strokes, barely
    # counted, and a dark painting's training was nearly all temporal loss (docs/feedforward.md).
    style_losses = {layer: StyleLoss(gram_matrix(features[layer]), relative=True) for layer in STYLE_LAYERS[arch]}
    tv = TVLoss()
    start, losses = 0, []
    partial = Path(partial_path)
    if partial.is_file():
        tensors, saved = read_checkpoint(partial)
        if saved.get("run") == header.get("run"):
            _restore(model, optimizer, {k: v.to(device) for k, v in tensors.items()})
            start, losses = int(saved["steps"]), list(saved.get("losses", []))
            log(f"resuming from the checkpoint at step {start}")
        else:
            log(f"{partial}: from another run; starting over")
    sampler = PairSampler(clips, settings.seed)
    began = time.perf_counter()
    for step in range(start + 1, settings.steps + 1):
        *tensors, keys = sampler.sample(settings.batch_size, step)
        previous, current, flow, mask = (t.to(device) for t in tensors)
        output = model(torch.cat([previous, current]))
        # Only the later frame of each pair is judged by the loss network: the two are nearly the same picture, and
        # judging both doubled the step's largest cost for the same network (190 steps in 5.6 min against about 10, the
        # same figures on bench/finetuned.py; docs/feedforward.md). The earlier frame's output is still held by the
        # temporal loss and the anchor, and is the later frame of other pairs.
        with torch.no_grad():
            targets = net(current)
        # The losses look at the output as the delivered 4:2:0 video will show it. Against the raw output, a network
        # fine-tuned for a few minutes learns pixel-fine colour patterns that match the loss network's Gram matrices
        # and that the encode then removes. Delivered, its style distance was 3.13x the arbitrary network's on Starry
        # Night, and 2.57x with this (docs/feedforward.md).
        out_prev, out_curr = output[: len(previous)], output[len(previous) :]
        out_features = net(as_420(out_curr))
        c_loss = sum(ContentLoss(targets[layer])(out_features[layer]) for layer in CONTENT_LAYERS[arch])
        s_loss = sum(loss(out_features[layer]) for layer, loss in style_losses.items())
        pixels = output * 255
        tv_loss = 0.5 * tv(pixels) * pixels[0, 0].numel()
        warped = warp_backward_torch(out_prev, flow) * 255
        # Gradients flow through both outputs, so the pair is pulled together from both sides.
        t_loss = masked_mse(out_curr * 255, warped, mask)
        total = (settings.content_weight * c_loss + settings.style_weight * s_loss + settings.tv_weight * tv_loss
                 + settings.temporal_weight * t_loss)
        if anchor is not None:
            a_loss = F.mse_loss(F.avg_pool2d(pixels, ANCHOR_POOL), anchor(keys))
            total = total + settings.anchor_weight * a_loss
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(settings, step)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(total.item())
        if on_step is not None:
            on_step(step, losses[-1])
        if step == 1 or step % 10 == 0 or step == settings.steps:
            per_step = (time.perf_counter() - began) / (step - start)
            eta = datetime.timedelta(seconds=round(per_step * (settings.steps - step)))
            log(f"step {step:5d}/{settings.steps}  loss {losses[-1]:.4g} (content {c_loss.item():.4g}, style {s_loss.item():.4g}, "
                f"temporal {t_loss.item():.4g}{f', anchor {a_loss.item():.4g}' if anchor is not None else ''})  {per_step:.2f} s/step, ETA {eta}")
        if step % settings.checkpoint_every == 0 and step < settings.steps:
            save_checkpoint(partial, _state_tensors(model, optimizer), {**header, "steps": step, "losses": losses})
    if isinstance(model, FineTunedTransformer):
        header = {**header, **model.checkpoint_header()}
    final = {**header, "arch": settings.arch, "steps": settings.steps, "losses": losses,
             "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None}
    save_checkpoint(out_path, {k: v for k, v in model.state_dict().items()}, final)
    if partial.exists():
        partial.unlink()
    return final
