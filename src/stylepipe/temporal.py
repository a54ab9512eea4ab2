"""Post-hoc temporal stabilisation of any per-frame stylisation (`temporal.method: blend`)."""

from __future__ import annotations

import numpy as np

from stylepipe.flow import warp_backward


def blend_with_previous(
    fresh: np.ndarray, previous_stable: np.ndarray, flow_bwd: np.ndarray, reliable: np.ndarray, strength: float, warp: str = "lanczos"
) -> np.ndarray:
    """Blend frame t with the stabilised frame t-1 warped onto it, only where the flow is reliable.

    Disoccluded and unreliable pixels take the fresh frame unchanged, so nothing ghosts in from where the
    flow is wrong. `strength` is the share of the warped previous frame (0 = off, towards 1 = frozen).
    """
    warped = warp_backward(previous_stable, flow_bwd, warp).astype(np.float32)
    alpha = strength * reliable.astype(np.float32)[..., None]
    blended = (1 - alpha) * fresh.astype(np.float32) + alpha * warped
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)
