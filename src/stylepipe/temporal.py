"""Post-hoc temporal stabilisation of any per-frame stylisation (`temporal.method: blend`)."""

from __future__ import annotations

import cv2
import numpy as np

from stylepipe.flow import warp_backward

# The content change is averaged over a square this many pixels wide: one noisy pixel does not read as a change,
# a misaligned edge or a new object still does.
CHANGE_WINDOW = 5
# The content frame before is warped onto the next with Keys' cubic to judge the change: averaged over the window,
# it differs from a Lanczos warp's by 0.07 levels on average (the change that halves the share is about 14), at a
# sixth of the time (2 ms against 13 at 640x360).
CHANGE_WARP = "cubic"


def content_change(content: np.ndarray, previous_content: np.ndarray, flow_bwd: np.ndarray, warp: str = CHANGE_WARP) -> np.ndarray:
    """How much each pixel's content changed from frame t-1 to frame t (uint8 RGB) once the motion is followed.

    The mean absolute RGB difference (0..255) between content frame t and frame t-1 warped onto it, averaged over
    CHANGE_WINDOW x CHANGE_WINDOW pixels. Small where the flow is right and the scene did not change; large where
    something appeared, the light changed, or the flow is wrong although the consistency check let it pass.
    """
    # Warped as uint8: a fifth faster, and rounding to whole levels does not matter to a difference of several.
    warped = warp_backward(previous_content, flow_bwd, warp)
    difference = cv2.absdiff(content, warped).mean(axis=-1, dtype=np.float32)
    return cv2.blur(difference, (CHANGE_WINDOW, CHANGE_WINDOW))


def blend_share(reliable: np.ndarray, strength: float, change: np.ndarray | None = None, change_scale: float = 0.0) -> np.ndarray:
    """Per pixel, the share of the warped previous stabilised frame in the blend.

    `strength` where the flow is reliable and, with a `change_scale`, the content did not change; the share falls
    as exp(-change^2 / 2 change_scale^2) where it did. A feed-forward network re-invents its texture each frame
    from small input differences (codec and sensor noise), so where the content holds still the output should
    too, and hard; where the content changes, the fresh frame should come through at once. Unreliable pixels take
    the fresh frame.
    """
    share = strength * reliable.astype(np.float32)
    if change is not None and change_scale > 0:
        share *= np.exp(-0.5 * (change / change_scale) ** 2)
    return share


def blend_with_previous(
    fresh: np.ndarray, previous_stable: np.ndarray, flow_bwd: np.ndarray, share: np.ndarray, warp: str = "lanczos"
) -> np.ndarray:
    """Blend frame t with the stabilised frame t-1 warped onto it, `share` (per pixel, from `blend_share`) of it.

    Disoccluded and unreliable pixels have a share of 0 and take the fresh frame unchanged, so nothing ghosts in
    from where the flow is wrong.
    """
    warped = warp_backward(previous_stable, flow_bwd, warp)
    # One pass in OpenCV, rounding to the nearest level: the same mix in numpy's float arithmetic took as long as
    # the Lanczos warp itself at 720p.
    return cv2.blendLinear(fresh, warped, 1 - share, share)
