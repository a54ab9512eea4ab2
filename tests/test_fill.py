"""The warm start's uncovered pixels: filled from stylised neighbours whose content looks alike."""

from __future__ import annotations

import numpy as np

from stylepipe.fill import fill_uncovered


def _two_regions(height: int = 12, width: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A content frame, red left of the middle and green right of it, and a stylisation that painted the left
    half 30 and the right half 220 (with some texture, so a fill that copies one pixel would show)."""
    content = np.zeros((height, width, 3), np.uint8)
    content[:, : width // 2, 0] = 200
    content[:, width // 2 :, 1] = 200
    texture = np.random.default_rng(0).integers(-10, 11, (height, width, 3))
    stylized = (np.where(np.arange(width)[None, :, None] < width // 2, 30, 220) + texture).astype(np.uint8)
    return content, stylized


def test_known_pixels_are_kept_and_an_edge_band_takes_its_neighbors():
    content, stylized = _two_regions(12, 60)
    known = np.ones(content.shape[:2], bool)
    known[:, -5:] = False  # a band a pan brings in, 5 pixels wide
    filled = fill_uncovered(stylized, known, content, reach=0.1)
    assert np.array_equal(filled[known], stylized[known])
    band = filled[:, -5:].astype(int)
    assert abs(band.mean() - 220) < 6 and band.min() >= 205 and band.max() <= 235


def test_uncovered_background_takes_the_background_not_the_object_next_to_it():
    # A hole straddling the boundary (what an object moving away uncovers): each side is filled from the side whose
    # content it shares, though the other side's pixels are as near.
    content, stylized = _two_regions()
    width = content.shape[1]
    known = np.ones(content.shape[:2], bool)
    known[3:9, width // 2 - 4 : width // 2 + 4] = False
    filled = fill_uncovered(stylized, known, content).astype(int)
    left = filled[3:9, width // 2 - 4 : width // 2]
    right = filled[3:9, width // 2 : width // 2 + 4]
    assert np.abs(left - 30).max() <= 12 and np.abs(right - 220).max() <= 12


def test_with_nothing_known_the_content_frame_is_the_start():
    content, stylized = _two_regions()
    assert np.array_equal(fill_uncovered(stylized, np.zeros(content.shape[:2], bool), content), content)


def test_what_looks_like_nothing_around_it_starts_from_its_content():
    # An object that was hidden altogether (the disc a bigger one passed over) or one coming into view: no stroke
    # around it belongs to it.
    content, stylized = _two_regions(12, 40)
    content[3:9, 4:10] = (0, 0, 255)
    content[5:7, 6:8] = (0, 0, 235)  # nearly the same blue inside: filled from the blue ring around it
    known = np.ones(content.shape[:2], bool)
    known[3:9, 4:10] = False
    filled = fill_uncovered(stylized, known, content).astype(int)
    island = filled[3:9, 4:10]
    assert (island[..., 2] >= 230).all() and (island[..., :2] <= 5).all()  # its own blue, not the strokes round it
    assert np.array_equal(filled[known], stylized[known])


def test_the_fill_reaches_only_so_far_and_the_content_frame_starts_the_rest():
    # Most of the frame unreliable (a dissolve, a cut the flow half follows): strokes from the known strip would
    # otherwise be spread over a picture they do not belong to.
    content, stylized = _two_regions(12, 40)
    known = np.zeros(content.shape[:2], bool)
    known[:, :2] = True
    filled = fill_uncovered(stylized, known, content, reach=0.25)  # 10 px of a 40 px frame
    assert np.abs(filled[:, 2:10].astype(int) - 30).max() <= 12
    assert np.array_equal(filled[:, 14:], content[:, 14:])
