"""Per-frame Gatys optimisation: pixels optimised so VGG content features and style Grams match targets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from stylepipe.flow import long_term_weights, warp_backward, warp_backward_torch
from stylepipe.colour import keep_content_colours
from stylepipe.fill import fill_uncovered
from stylepipe.settings import GatysSettings
from stylepipe.lossnet import CONTENT_LAYERS, STYLE_LAYERS, VGGFeatures
from stylepipe.losses import ContentLoss, StyleLoss, TemporalLoss, TVLoss

INIT_MODES = ("content", "noise", "prev_warped")
OPTIMIZERS = ("lbfgs", "adam")
# The layer whose receptive field (about 90 px for VGG relu4) spans the strokes painted around an object; relu3
# (about 40 px) left drift at x1.048 where relu4 gave x1.011 at the same warping error (bench/gatys_drift.py).
CONTEXT_LAYER = {"vgg16": "relu4_3", "vgg19": "relu4_1"}


@dataclass
class FrameResult:
    image: torch.Tensor  # (1, 3, H, W) in [0, 1]
    content_loss: float
    style_loss: float
    total_loss: float
    iterations: int
    seconds: float


def to_tensor(frame: np.ndarray, device: str | torch.device) -> torch.Tensor:
    """HxWx3 uint8 to (1, 3, H, W) float in [0, 1]."""
    # A copy: frames read through PIL are read-only arrays, which torch warns about.
    return torch.from_numpy(np.array(frame, dtype=np.uint8)).permute(2, 0, 1)[None].float().div(255).contiguous().to(device)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in [0, 1] to HxWx3 uint8."""
    return image[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def initial_image(mode: str, content: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Starting image for `content` or `noise` init, and for the first frame under `prev_warped`."""
    if mode == "noise":
        noise = torch.rand(content.shape, generator=generator).to(content.device)
        return 0.5 * content + 0.5 * noise
    return content.clone()


def temporal_terms(
    content: torch.Tensor,
    previous: dict[int, np.ndarray],
    flows: dict[int, np.ndarray],
    reliable: dict[int, np.ndarray],
    settings: GatysSettings,
    anchor: torch.Tensor | None = None,
) -> tuple[torch.Tensor | None, Callable[[torch.Tensor], torch.Tensor] | None]:
    """Ruder et al.'s warm start and temporal loss for one frame, leaning on `anchor` when there is one.

    `previous[d]` is the stylised frame t-d (uint8), `flows[d]` the backward flow from t to t-d and
    `reliable[d]` its consistency mask. Returns the start image (the warped frame t-1; its unreliable pixels
    taken from the anchor when there is one, else filled as `settings.uncovered_start` says) or None, and the
    temporal loss on 0..255 pixels, or None. With an anchor (`anchor_image`), the temporal target is the warped
    frames mixed with `settings.anchor_share` of the anchor, and pixels that no earlier frame covers are held to
    the anchor.
    """
    warped_frames = {d: warp_backward(previous[d], flows[d], settings.warp) for d in previous}
    warped = {d: to_tensor(frame, content.device) for d, frame in warped_frames.items()}
    start = None
    if settings.init == "prev_warped" and 1 in warped:
        if anchor is None and settings.uncovered_start == "neighbours":
            start = to_tensor(fill_uncovered(warped_frames[1], reliable[1] >= 0.5, to_uint8(content)), content.device)
        else:
            mask = torch.from_numpy(reliable[1].astype(np.float32))[None, None].to(content.device)
            start = mask * warped[1] + (1 - mask) * (content if anchor is None else anchor)
    offsets = [d for d in settings.long_term if d in warped]
    if settings.temporal_weight <= 0 or not offsets:
        return start, None
    weights = {d: torch.from_numpy(w)[None, None].to(content.device)
               for d, w in long_term_weights({d: reliable[d] for d in offsets}).items()}
    if anchor is None:
        terms = [TemporalLoss(warped[d] * 255, weights[d]) for d in offsets]
    else:
        share = settings.anchor_share
        terms = [TemporalLoss(((1 - share) * warped[d] + share * anchor) * 255, weights[d]) for d in offsets]
        # Without this pull, the pixels no earlier frame covers are the only free ones, and the optimiser pours the
        # whole frame's remaining style error into them: stripes where a pan brings in new pixels, rings at edges.
        # (Holding them to the anchor's coarse picture only, shrunk, let fine stripes back in.)
        uncovered = (1 - sum(weights.values())).clamp(0, 1)
        terms.append(TemporalLoss(anchor * 255, uncovered))

    def temporal_loss(pixels: torch.Tensor) -> torch.Tensor:
        return settings.temporal_weight * sum(term(pixels) for term in terms)

    return start, temporal_loss


def anchor_image(net: VGGFeatures, content: torch.Tensor, grams: dict[str, torch.Tensor], settings: GatysSettings) -> torch.Tensor:
    """The frame stylised on its own, from its content, at `settings.anchor_scale`, then brought to full size.

    A shot's later frames lean on it (`temporal_terms`). The warped previous output carries strokes that the
    current frame no longer explains: those Gatys painted around an object that has since moved on sit on
    background pixels the flow tracks reliably, so a temporal loss alone would keep them there for the rest of
    the shot (a trail). Mixing a share of a fresh stylisation into the target makes them fade by that share per
    frame; a coarse one is enough to say what belongs where, and costs a fraction of a full-size iteration.
    """
    small = shrunk(content, settings.anchor_scale)
    result = optimise_frame(net, small, grams, small.clone(), settings, settings.anchor_iterations)
    if small.shape == content.shape:
        return result.image
    return F.interpolate(result.image, size=content.shape[2:], mode="bicubic", align_corners=False).clamp(0, 1)


def shrunk(image: torch.Tensor, scale: float) -> torch.Tensor:
    """`image` resized by `scale` (area averaging), each side at least 16 px so VGG still has something to see;
    `image` itself at scale 1."""
    height, width = image.shape[2:]
    size = (max(16, round(height * scale)), max(16, round(width * scale)))
    return image if size == (height, width) else F.interpolate(image, size=size, mode="area")


def context_change(net: VGGFeatures, content: torch.Tensor, previous_content: torch.Tensor, flow: np.ndarray,
                   layer: str) -> np.ndarray:
    """How much each pixel's surroundings changed between the previous content frame and this one (0: not at all).

    Gatys paints strokes around an object onto the background next to it. Those background pixels are
    reliably tracked, so the temporal loss keeps the strokes there after the object has moved on: a trail. The
    deep features of `layer` see a neighbourhood, so comparing them across the flow finds where the context,
    not the pixel, changed; the temporal pull is relaxed there. Relative squared feature change, per pixel.
    """
    with torch.no_grad():
        now, before = net(content)[layer], net(previous_content)[layer]
        height, width = content.shape[2:]
        small_h, small_w = now.shape[2:]
        flow_t = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1)[None].to(now.device)
        flow_small = F.interpolate(flow_t, size=(small_h, small_w), mode="area")
        flow_small = flow_small * torch.tensor([small_w / width, small_h / height], device=now.device).view(1, 2, 1, 1)
        warped = warp_backward_torch(before, flow_small.permute(0, 2, 3, 1))
        change = ((now - warped) ** 2).sum(1, keepdim=True) / (now**2).sum(1).mean().clamp_min(1e-12)
        change = F.interpolate(change, size=(height, width), mode="bilinear", align_corners=False)
    return change[0, 0].cpu().numpy()


def optimise_coarse_to_fine(
    net: VGGFeatures,
    content: torch.Tensor,
    grams_at: Callable[[float], dict[str, torch.Tensor]],
    settings: GatysSettings,
    generator: torch.Generator,
) -> FrameResult:
    """A first frame (of the clip or of a shot): optimised at each of `settings.scales`, coarse to fine.

    The coarse scales settle the large structures cheaply; each finer scale starts from the result so far,
    upsampled, and adds detail. Time and iterations are summed over the scales.
    """
    init = settings.init if settings.init != "prev_warped" else "content"
    image: torch.Tensor | None = None
    seconds, iterations, result = 0.0, 0, None
    for scale, steps in settings.first_frame_schedule():
        scaled = shrunk(content, scale)
        if image is None:
            start = initial_image(init, scaled, generator)
        else:
            start = F.interpolate(image, size=scaled.shape[2:], mode="bicubic", align_corners=False).clamp(0, 1)
        result = optimise_frame(net, scaled, grams_at(scale), start, settings, steps)
        image, seconds, iterations = result.image, seconds + result.seconds, iterations + steps
    assert result is not None
    result.seconds, result.iterations = seconds, iterations
    return result


def optimise_frame(
    net: VGGFeatures,
    content: torch.Tensor,
    style_grams: dict[str, torch.Tensor],
    start: torch.Tensor,
    settings: GatysSettings,
    iterations: int,
    extra_loss: Callable[[torch.Tensor], torch.Tensor] | None = None,
    trace: list[tuple[float, float]] | None = None,
) -> FrameResult:
    """Optimise one frame from `start`; `extra_loss(image_0_255)` adds e.g. the temporal term.

    `trace`, when given, receives (seconds since start, total loss) at every evaluation, for loss-at-equal-time
    comparisons.
    """
    began = time.perf_counter()
    arch = net.info.arch
    with torch.no_grad():
        content_features = net(content)
    content_losses = {layer: ContentLoss(content_features[layer]) for layer in CONTENT_LAYERS[arch]}
    style_losses = {layer: StyleLoss(style_grams[layer]) for layer in STYLE_LAYERS[arch]}
    tv_loss = TVLoss()
    image = start.detach().clone().contiguous().requires_grad_(True)
    last: dict[str, float] = {}

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        features = net(image)
        c_loss = sum(loss(features[layer]) for layer, loss in content_losses.items())
        s_loss = sum(loss(features[layer]) for layer, loss in style_losses.items())
        # TV and temporal terms are on the 0..255 scale, as in neural-style / artistic-videos.
        pixels = image * 255
        total = settings.content_weight * c_loss + settings.style_weight * s_loss
        total = total + settings.tv_weight * 0.5 * tv_loss(pixels) * pixels[0, 0].numel()
        if extra_loss is not None:
            total = total + extra_loss(pixels)
        total.backward()
        last.update(content=c_loss.item(), style=s_loss.item(), total=total.item())
        if trace is not None:
            trace.append((time.perf_counter() - began, last["total"]))
        return total

    if settings.optimizer == "lbfgs":
        optimiser: torch.optim.Optimizer = torch.optim.LBFGS(
            [image], lr=1.0, max_iter=iterations, max_eval=int(iterations * 1.25), history_size=50,
            tolerance_grad=0.0, tolerance_change=0.0,
            # Gram losses are quartic in the pixels; without a line search the second step overshoots wildly.
            line_search_fn="strong_wolfe",
        )
        optimiser.step(closure)
    else:
        optimiser = torch.optim.Adam([image], lr=settings.learning_rate / 255)
        for _ in range(iterations):
            optimiser.step(closure)
            with torch.no_grad():
                image.clamp_(0, 1)
    result = image.detach().clamp(0, 1)
    if settings.preserve_colors:
        result = keep_content_colours(result, content)
    return FrameResult(
        image=result,
        content_loss=last.get("content", float("nan")),
        style_loss=last.get("style", float("nan")),
        total_loss=last.get("total", float("nan")),
        iterations=iterations,
        seconds=time.perf_counter() - began,
    )
