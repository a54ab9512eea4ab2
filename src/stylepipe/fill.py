"""Filling the pixels of a warped frame that the previous frame does not cover, from neighbours with similar content.

Gatys mode starts each frame from the previous output warped along the flow. Some pixels have no reliable source
there: a band the pan brings in at the edge, the background a moving object uncovers, motion boundaries. Starting
them from the raw content frame, as before, left them the only unstylised pixels, and the optimiser poured the whole
frame's style error into them: stripes where a pan brings pixels in, a dotted ring round moving objects, carried on
along the shot. Starting them from the warped value (Ruder et al.'s artistic-videos) copies the object that was there
into the background it uncovers: a ghost that trails it. This fills them from their stylised neighbours instead,
weighted by how alike the *content* is, so uncovered background takes the background's strokes and not the object's.
Pixels that look like nothing around them, and those deep inside a gap, still start from the content frame.
"""

from __future__ import annotations

import cv2
import numpy as np

# Content colour distance (RGB in 0..1, Euclidean) at which a neighbour's weight falls to exp(-1/2).
SIMILARITY_SIGMA = 0.1
# A pixel waits for a more alike neighbour while its known neighbours' weights sum to less than this, so the fill
# spreads from the side whose content matches (the background behind an object, not the object); when no pixel on
# the front has one, the front starts from its content.
ALIKE_ENOUGH = 0.1
# How far the fill reaches into a gap, as a fraction of the frame's longer side. The band a pan brings in, the strip
# a moving object uncovers and a motion boundary are a few pixels wide. Deeper gaps are something else: an object
# that was hidden altogether and comes back (the consistency check misses some of its pixels, and the fill would
# spread the strokes of what hid it), a dissolve, a cut the flow half follows; their content frame is the better
# start. At 0.1, a disc a faster one had passed over came back in the faster one's colours.
REACH = 0.02
# ... but at least this many pixels, so a small frame's band (a pan of 2 px a frame at 64 px) is still filled.
MIN_REACH_PX = 3
_NEIGHBORS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def fill_uncovered(image: np.ndarray, known: np.ndarray, content: np.ndarray, sigma: float = SIMILARITY_SIGMA,
                   reach: float = REACH) -> np.ndarray:
    """`image` (HxWxC uint8) with every pixel where `known` (HxW bool) is False filled from its neighbours.

    The fill grows inwards from the known pixels a ring at a time; each unknown pixel on the front takes the mean
    of its known 8-neighbours, weighted by exp(-|c - c_n|^2 / 2 sigma^2) on the `content` frame's colours (HxWx3
    uint8). A pixel with no alike known neighbour waits while the fill goes on elsewhere; when no pixel on the front
    has one, the front takes the content frame's values and the fill goes on from them. Pixels further than `reach`
    (a fraction of the frame's longer side, at least `MIN_REACH_PX`) from every known pixel, and all of them when
    none is known, take the content frame's values too.
    """
    height, width = known.shape
    if known.all():
        return image.copy()
    if not known.any():
        return content.copy()
    values = image.reshape(height * width, -1).astype(np.float32)
    source = content.reshape(height * width, 3).astype(np.float32)
    guide = source / 255
    filled = known.reshape(-1).copy()
    # Only the unknown pixels next to a known one can be filled in a round: the front. It is found once for the
    # whole frame, then kept up from the pixels each round fills, so a round costs the front's size, not the frame's.
    front = np.flatnonzero((cv2.dilate(known.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~known)
    rounds, limit = 0, max(MIN_REACH_PX, reach * max(height, width))
    while front.size and rounds < limit:
        rows, cols = np.divmod(front, width)
        total = np.zeros((front.size, values.shape[1]), np.float32)
        weight = np.zeros(front.size, np.float32)
        neighbors = []
        for dy, dx in _NEIGHBORS:
            r, c = rows + dy, cols + dx
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            neighbor = np.where(inside, r * width + c, front)
            neighbors.append(neighbor)
            alike = np.exp(-((guide[neighbor] - guide[front]) ** 2).sum(1) / (2 * sigma**2))
            w = filled[neighbor] * alike
            total += w[:, None] * values[neighbor]
            weight += w
        ready = weight >= ALIKE_ENOUGH
        if ready.any():
            values[front[ready]] = total[ready] / weight[ready, None]
        else:
            # Nothing known around these pixels looks like them (an object that was hidden altogether, something
            # coming into view): they start from their content, and the fill goes on from them.
            ready[:] = True
            values[front] = source[front]
        rounds += 1
        filled[front[ready]] = True
        reached = np.concatenate([n[ready] for n in neighbors])
        front = np.union1d(front[~ready], reached[~filled[reached]])
    values[~filled] = source[~filled]
    return np.clip(values + 0.5, 0, 255).astype(np.uint8).reshape(image.shape)
