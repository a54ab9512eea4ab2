"""Per-frame Gatys optimisation: pixels optimised so VGG content features and style Grams match targets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from stylepipe.flow import long_term_weights, warp_backward
from stylepipe.color import keep_content_colors
from stylepipe.fill import fill_uncovered
from stylepipe.settings import GatysSettings
from stylepipe.lossnet import CONTENT_LAYERS, STYLE_LAYERS, VGGFeatures
from stylepipe.losses import ContentLoss, StyleLoss, TemporalLoss, TVLoss


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
    previous_content: dict[int, np.ndarray],
    flows: dict[int, np.ndarray],
    reliable: dict[int, np.ndarray],
    settings: GatysSettings,
) -> tuple[torch.Tensor | None, Callable[[torch.Tensor], torch.Tensor] | None]:
    """Ruder et al.'s warm start and temporal loss for one frame, carrying the stylisation rather than the picture.

    `previous[d]` is the stylised frame t-d and `previous_content[d]` its content frame (uint8), `flows[d]` the backward
    flow from t to t-d and `reliable[d]` its consistency mask. What is carried along the flow is what stylising did
    to frame t-d (its output less its content), laid on this frame's content: a frame that only copied the warped
    previous output would carry the warp's errors, and whatever the flow got wrong, from frame to frame, while
    nothing pulled it back to the content, and the picture faded into texture along the shot (a trail where an
    object had been). Returns the start image (the carried frame t-1; pixels it does not reliably cover filled as
    `settings.uncovered_start` says) or None, and the temporal loss on 0..255 pixels, or None.
    """
    here = to_uint8(content)
    carried = {d: carry_stylization(previous[d], previous_content[d], here, flows[d], settings.warp) for d in previous}
    start = None
    if settings.init == "prev_warped" and 1 in carried:
        if settings.uncovered_start == "neighbours":
            start = to_tensor(fill_uncovered(carried[1], reliable[1] >= 0.5, here), content.device)
        else:
            mask = torch.from_numpy(reliable[1].astype(np.float32))[None, None].to(content.device)
            start = mask * to_tensor(carried[1], content.device) + (1 - mask) * content
    offsets = [d for d in settings.long_term if d in carried]
    if settings.temporal_weight <= 0 or not offsets:
        return start, None
    weights = {d: torch.from_numpy(w)[None, None].to(content.device)
               for d, w in long_term_weights({d: reliable[d] for d in offsets}).items()}
    terms = [TemporalLoss(to_tensor(carried[d], content.device) * 255, weights[d]) for d in offsets]

    def temporal_loss(pixels: torch.Tensor) -> torch.Tensor:
        return settings.temporal_weight * sum(term(pixels) for term in terms)

    return start, temporal_loss


def carry_stylization(output: np.ndarray, output_content: np.ndarray, content: np.ndarray, flow: np.ndarray,
                      warp: str) -> np.ndarray:
    """An earlier frame's stylisation (`output` less `output_content`, signed) warped along `flow` and laid on `content`;
    all HxWx3 uint8."""
    residual = output.astype(np.float32) - output_content.astype(np.float32)
    return np.clip(np.rint(content.astype(np.float32) + warp_backward(residual, flow, warp)), 0, 255).astype(np.uint8)


def shrunk(image: torch.Tensor, scale: float) -> torch.Tensor:
    """`image` resized by `scale` (area averaging), each side at least 16 px so VGG still has something to see;
    `image` itself at scale 1."""
    height, width = image.shape[2:]
    size = (max(16, round(height * scale)), max(16, round(width * scale)))
    return image if size == (height, width) else F.interpolate(image, size=size, mode="area")


def optimize_coarse_to_fine(
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
    for scale, steps in settings.first_frame_schedule((content.shape[3], content.shape[2])):
        scaled = shrunk(content, scale)
        if image is None:
            start = initial_image(init, scaled, generator)
        else:
            start = F.interpolate(image, size=scaled.shape[2:], mode="bicubic", align_corners=False).clamp(0, 1)
        result = optimize_frame(net, scaled, grams_at(scale), start, settings, steps)
        image, seconds, iterations = result.image, seconds + result.seconds, iterations + steps
    assert result is not None
    result.seconds, result.iterations = seconds, iterations
    return result


def optimize_frame(
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
        optimizer.zero_grad()
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
        optimizer: torch.optim.Optimizer = torch.optim.LBFGS(
            [image], lr=1.0, max_iter=iterations, max_eval=int(iterations * 1.25), history_size=50,
            tolerance_grad=0.0, tolerance_change=0.0,
            # Gram losses are quartic in the pixels; without a line search the second step overshoots wildly.
            line_search_fn="strong_wolfe",
        )
        optimizer.step(closure)
    else:
        optimizer = torch.optim.Adam([image], lr=settings.learning_rate / 255)
        for _ in range(iterations):
            optimizer.step(closure)
            with torch.no_grad():
                image.clamp_(0, 1)
    result = image.detach().clamp(0, 1)
    if settings.preserve_colors:
        result = keep_content_colors(result, content)
    return FrameResult(
        image=result,
        content_loss=last.get("content", float("nan")),
        style_loss=last.get("style", float("nan")),
        total_loss=last.get("total", float("nan")),
        iterations=iterations,
        seconds=time.perf_counter() - began,
    )
