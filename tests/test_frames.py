from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stylepipe.errors import StylepipeError
from stylepipe.frames import atomic_dir, atomic_file, chunk_layout, owned_frames, read_frame, read_rgb, segment_starts, shot_firsts, write_rgb


def test_chunks_cover_every_frame_once_and_never_span_a_cut():
    shots = [[0, 5], [5, 23], [23, 24]]
    layout = chunk_layout(shots, 8)
    covered = [i for chunk in layout for i in range(chunk["start"], chunk["end"])]
    assert covered == list(range(24))
    assert [(c["start"], c["end"], c["shot"]) for c in layout] == [(0, 5, 0), (5, 13, 1), (13, 21, 1), (21, 23, 1), (23, 24, 2)]
    assert len(chunk_layout([[0, 16]], 8)) == 2 and len(chunk_layout([[0, 17]], 8)) == 3
    assert {c["chain"] for c in layout} == {0, 1, 2} and all(c["chain_start"] == c["shot_start"] == c["segment_start"] for c in layout)


def test_feed_forward_chunks_ignore_the_cuts_and_split_the_clip_evenly():
    shots = [[0, 70], [70, 125], [125, 200], [200, 250]]
    # Four shots, one job: the per-frame network does not care where the cuts are.
    assert [(c["start"], c["end"]) for c in chunk_layout(shots, 250, follow_cuts=False)] == [(0, 250)]
    # 260 frames in chunks of at most 250: two of 130, not 250 and 10.
    layout = chunk_layout([[0, 100], [100, 260]], 250, follow_cuts=False)
    assert [(c["start"], c["end"]) for c in layout] == [(0, 130), (130, 260)]
    # One chain, so each chunk's blend continues from the chunk before it.
    assert {(c["chain"], c["chain_start"], c["segment_start"]) for c in layout} == {(0, 0, 0)}
    assert sorted(t for c in layout for t in owned_frames(c)) == list(range(260))
    with pytest.raises(ValueError):
        chunk_layout(shots, 100, segment_frames=50, follow_cuts=False)


def test_shot_firsts_is_the_cut_before_each_frame():
    assert shot_firsts([[0, 5], [5, 9], [9, 12]], [0, 4, 5, 8, 9, 11]) == {0: 0, 4: 0, 5: 5, 8: 5, 9: 9, 11: 9}


def test_segments_split_long_shots_evenly_into_chains_that_start_early():
    assert segment_starts(0, 62, 30) == [0, 20, 41]  # three of 20-21 frames, not 30, 30 and 2
    assert segment_starts(10, 40, 30) == [10] and segment_starts(0, 100, 0) == [0]
    layout = chunk_layout([[0, 5], [5, 45]], 8, segment_frames=20, segment_overlap=4)
    chains = {}
    for c in layout:
        chains.setdefault(c["chain"], []).append(c)
    # The short shot is one chain; the long one is two segments, the second starting 4 frames early.
    assert [(c["start"], c["end"]) for c in chains[0]] == [(0, 5)]
    assert [(c["start"], c["end"]) for c in chains[1]] == [(5, 13), (13, 21), (21, 25)]
    assert [(c["start"], c["end"]) for c in chains[2]] == [(21, 29), (29, 37), (37, 45)]
    assert {(c["shot"], c["chain_start"], c["segment_start"]) for c in chains[2]} == {(1, 21, 25)}
    assert {(c["shot"], c["chain_start"], c["segment_start"]) for c in chains[1]} == {(1, 5, 5)}
    # Every frame is owned once; the overlap frames are also the next chain's warm-up.
    owned = sorted(t for c in layout for t in owned_frames(c))
    assert owned == list(range(45))


def test_atomic_dir_publishes_only_on_success(tmp_path):
    target = tmp_path / "chunk_0000"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as scratch:
            (scratch / "000000.png").write_bytes(b"partial")
            raise RuntimeError("killed")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(target) as scratch:
        (scratch / "000000.png").write_bytes(b"done")
    assert (target / "000000.png").read_bytes() == b"done"


def test_a_missing_cached_folder_is_one_clear_error_and_moves_nothing(tmp_path):
    from stylepipe.errors import StylepipeError
    from stylepipe.frames import checked_folder

    (tmp_path / "frames").mkdir()
    with pytest.raises(StylepipeError, match="frames/chunk_0000: not found"):
        checked_folder(tmp_path / "frames" / "chunk_0000")
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def test_atomic_file_keeps_old_content_when_writer_fails(tmp_path):
    target = tmp_path / "meta.json"
    target.write_text("old")
    with pytest.raises(ValueError):
        with atomic_file(target) as tmp:
            tmp.write_text("half")
            raise ValueError
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["meta.json"]


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "I;16"])
def test_read_rgb_accepts_any_image_mode(tmp_path, mode):
    rgb = np.random.default_rng(0).integers(0, 255, (10, 12, 3), np.uint8)
    image = Image.fromarray(rgb)
    if mode == "RGBA":
        image = image.convert("RGBA")
        image.putalpha(0)  # fully transparent: shows the white backdrop
    elif mode == "I;16":
        image = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
    else:
        image = image.convert(mode)
    path = tmp_path / f"style_{mode.replace(';', '')}.png"
    image.save(path)
    out = read_rgb(path)
    assert out.shape == (10, 12, 3) and out.dtype == np.uint8
    if mode == "RGBA":
        assert (out == 255).all()
    if mode == "L":
        assert (out[..., 0] == out[..., 1]).all()
    if mode == "I;16":
        # 16-bit greyscale keeps its tones instead of clipping to white
        np.testing.assert_array_equal(out[..., 0], rgb[..., 0])


def test_read_rgb_errors_name_the_file(tmp_path):
    bad = tmp_path / "scan.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(StylepipeError, match="scan.jpg: not a readable image"):
        read_rgb(bad)


def test_write_rgb_is_lossless_and_keeps_the_channel_order(tmp_path):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (91, 161, 3), dtype=np.uint8)
    frame[0, 0] = (255, 0, 0)  # red stays red: OpenCV's encoder wants BGR
    write_rgb(tmp_path / "000000.png", frame[:, ::-1])  # a view with negative strides, as flips make
    back = read_rgb(tmp_path / "000000.png")
    assert np.array_equal(back, frame[:, ::-1])
    assert tuple(np.asarray(Image.open(tmp_path / "000000.png").convert("RGB"))[0, -1]) == (255, 0, 0)


def test_stored_frames_read_back_exactly_and_skip_compression(tmp_path):
    rng = np.random.default_rng(1)
    frame = np.repeat(rng.integers(0, 256, (91, 1, 3), dtype=np.uint8), 161, axis=1)  # rows that deflate would shrink
    write_rgb(tmp_path / "stored.png", frame, compress=False)
    write_rgb(tmp_path / "packed.png", frame)
    assert (tmp_path / "stored.png").stat().st_size >= frame.size > 4 * (tmp_path / "packed.png").stat().st_size
    for name in ("stored.png", "packed.png"):
        assert np.array_equal(read_frame(tmp_path / name), frame)
        assert np.array_equal(read_rgb(tmp_path / name), frame)


@pytest.mark.parametrize("mode", ["RGBA", "L", "I;16"])
def test_read_frame_converts_other_images_as_read_rgb_does(tmp_path, mode):
    rgb = np.random.default_rng(2).integers(0, 255, (10, 12, 3), np.uint8)
    image = {"RGBA": lambda: Image.fromarray(rgb).convert("RGBA"), "L": lambda: Image.fromarray(rgb).convert("L"),
             "I;16": lambda: Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)}[mode]()
    if mode == "RGBA":
        image.putalpha(0)
    path = tmp_path / "other.png"
    image.save(path)
    assert np.array_equal(read_frame(path), read_rgb(path))


def test_read_frame_errors_name_the_file(tmp_path):
    bad = tmp_path / "000007.png"
    bad.write_bytes(b"\x89PNG cut short")
    with pytest.raises(StylepipeError, match="000007.png: not a readable image"):
        read_frame(bad)
    with pytest.raises(StylepipeError, match="000008.png: image file not found"):
        read_frame(tmp_path / "000008.png")


def test_a_jpeg_frame_keeps_full_resolution_colour_and_is_found_by_its_number(tmp_path):
    from stylepipe.frames import frame_in, list_frames

    stripes = np.zeros((32, 48, 3), np.uint8)
    stripes[:, 0::2, 0] = 220  # one-pixel red and blue columns: 4:2:0 would turn them purple
    stripes[:, 1::2, 2] = 220
    write_rgb(tmp_path / "000001.jpg", stripes)
    write_rgb(tmp_path / "000000.png", stripes)
    assert [path.name for path in list_frames(tmp_path)] == ["000000.png", "000001.jpg"]
    assert frame_in(tmp_path, 1).name == "000001.jpg" and frame_in(tmp_path, 0).name == "000000.png"
    back = read_frame(tmp_path / "000001.jpg").astype(int)
    assert np.abs(back - stripes).mean() < 6
