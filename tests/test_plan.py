"""What the workflow decides while it builds the DAG (stylepipe.plan), without Snakemake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stylepipe import plan, settings
from stylepipe.errors import StylepipeError
from stylepipe.frames import atomic_dir, write_rgb
from stylepipe.settings import TrainSettings, schema_defaults


@pytest.mark.parametrize(("argv", "looks"), [
    (["--cores", "2", "results/out.mp4"], False),
    (["-n", "results/out.mp4"], True),
    (["-pn"], True),
    (["--dry-run"], True),
    (["--report=results/report.html"], True),
    (["--cores", "all", "--notemp"], False),
    (["-c2"], False),
])
def test_only_looks_knows_the_commands_that_change_nothing(argv, looks):
    assert plan.only_looks(argv) is looks


LAYOUT = [  # two shots; the second split into two segments (chains 1 and 2), each in chunks of 4
    {"start": 0, "end": 4, "chain": 0}, {"start": 4, "end": 6, "chain": 0},
    {"start": 6, "end": 10, "chain": 1}, {"start": 10, "end": 14, "chain": 1}, {"start": 14, "end": 16, "chain": 1},
    {"start": 12, "end": 16, "chain": 2}, {"start": 16, "end": 20, "chain": 2},
]


def test_a_chunk_waits_only_for_the_chunks_of_its_chain_that_it_looks_back_into():
    assert plan.chain_before(LAYOUT, 1, 1) == [0]
    assert plan.chain_before(LAYOUT, 2, 4) == [], "the first chunk of a chain waits for nothing"
    assert plan.chain_before(LAYOUT, 4, 1) == [3]
    assert plan.chain_before(LAYOUT, 4, 6) == [2, 3], "long-term offsets reach two chunks back"
    assert plan.chain_before(LAYOUT, 6, 4) == [5]


def test_auto_temporal_method_is_the_blend_in_feedforward_mode_only():
    assert plan.temporal_method({"mode": "feedforward", "temporal": {"method": "auto"}}) == "blend"
    assert plan.temporal_method({"mode": "gatys", "temporal": {"method": "auto"}}) == "none"
    assert plan.temporal_method({"mode": "gatys", "temporal": {"method": "blend"}}) == "blend"


def test_thread_counts_follow_the_work_a_job_has():
    assert plan.flow_threads({"start": 0, "end": 250}, cores=8, run=8) == 8
    assert plan.flow_threads({"start": 0, "end": 9}, cores=8, run=8) == 2
    assert plan.flow_threads({"start": 0, "end": 3}, cores=0, run=8) == 1
    shots = [[0, 40], [40, 90], [90, 250]]
    assert plan.stabilize_threads({"start": 0, "end": 250}, shots, cores=8) == 3
    assert plan.stabilize_threads({"start": 0, "end": 250}, shots, cores=2) == 2
    assert plan.stabilize_threads({"start": 100, "end": 200}, shots, cores=8) == 1


def _variant(style: str, **train) -> dict:
    return {"content": "clip.mp4", "style": style, "loss_network": {"weights": "auto"},
            "feedforward": {"arch": "johnson", "train": {"videos": [], **train}}}


def test_a_trained_model_is_named_by_its_style_its_bytes_and_every_training_knob(tmp_path, monkeypatch):
    painting = tmp_path / "painting.png"
    painting.write_bytes(b"first")
    first = plan.model_id(_variant(str(painting)), (), "resources/demo/content.mp4")
    assert first.startswith("painting-") and first == plan.model_id(_variant(str(painting)), (), "resources/demo/content.mp4")
    assert plan.model_id(_variant(str(painting), steps=301), (), "resources/demo/content.mp4") != first
    # A model an older version of the training made is not taken for this version's.
    monkeypatch.setattr(settings, "TRAINING_RECIPE", settings.TRAINING_RECIPE - 1)
    assert plan.model_id(_variant(str(painting)), (), "resources/demo/content.mp4") != first
    monkeypatch.undo()
    painting.write_bytes(b"other")
    assert plan.model_id(_variant(str(painting)), (), "resources/demo/content.mp4") != first
    # A generated demo file has no bytes yet while the workflow is parsed: its path names it.
    assert plan.model_id(_variant("resources/demo/style.png"), ("resources/demo/style.png",), "d.mp4").startswith("style-")
    assert plan.training_videos(_variant("p.png"), "demo.mp4") == ["clip.mp4", "demo.mp4"]
    assert TrainSettings.from_config({}, "johnson").steps == 190


def test_damaged_cached_folders_are_set_aside_unless_the_run_only_looks(tmp_path):
    import numpy as np

    folder = tmp_path / "out/stylized/chunk_0000"
    with atomic_dir(folder) as scratch:
        write_rgb(scratch / "000000.png", np.zeros((4, 4, 3), np.uint8))
    assert plan.set_aside_damaged(tmp_path, ["out"], looking=False) == []
    (folder / "000000.png").write_bytes(b"truncated")
    said = plan.set_aside_damaged(tmp_path, ["out"], looking=True)
    assert len(said) == 1 and "a real run sets it aside" in said[0] and folder.is_dir()
    said = plan.set_aside_damaged(tmp_path, ["out"], looking=False)
    assert len(said) == 1 and "set aside as" in said[0] and not folder.exists()
    assert json.dumps(said)  # one plain line each


def test_the_warm_server_starts_only_for_local_runs_that_import_torch():
    rules = ("stylize_gatys", "train")
    assert plan.wants_warm_server(True, True, None, ["probe", "stylize_gatys"], False, rules)
    assert plan.wants_warm_server(True, True, None, ["probe"], True, rules), "stylise jobs come after the shot list"
    assert not plan.wants_warm_server(True, True, None, ["probe", "assemble"], False, rules)
    assert not plan.wants_warm_server(False, True, None, ["stylize_gatys"], False, rules)
    assert not plan.wants_warm_server(True, False, None, ["stylize_gatys"], False, rules), "a cluster job imports torch itself"
    assert not plan.wants_warm_server(True, True, "conda", ["stylize_gatys"], False, rules)


def test_gatys_chunks_follow_the_cuts_and_feedforward_chunks_do_not():
    shots = [[0, 10], [10, 30]]
    gatys = {"mode": "gatys", "chunk_frames": 8, "gatys": {"segment_frames": 0, "segment_overlap": 20}}
    spans = [(c["start"], c["end"], c["chain"]) for c in plan.chunk_layout(gatys, shots)]
    assert all(not (start < 10 < end) for start, end, _ in spans) and spans[0] == (0, 8, 0) and spans[-1][1] == 30
    feedforward = {**gatys, "mode": "feedforward", "chunk_frames": 250}
    assert [(c["start"], c["end"]) for c in plan.chunk_layout(feedforward, shots)] == [(0, 30)]


def test_the_loss_network_file_is_the_converted_source_or_the_path_given():
    assert plan.loss_network_file({"loss_network": {"weights": "auto"}}) == "resources/lossnet/auto.safetensors"
    assert plan.loss_network_file({"loss_network": {"weights": "mine/vgg.pth"}}) == "mine/vgg.pth"


def _full_variant(mode: str, **feedforward) -> dict:
    """A variant as the validated config gives it, with the schema's defaults."""
    train = schema_defaults("feedforward", "train")
    return {"mode": mode, "content": "clip.mp4", "style": "painting.png", "device": "cpu",
            "loss_network": {"weights": "auto"}, "temporal": {"method": "auto"},
            "gatys": dict(schema_defaults("gatys")),
            "feedforward": {**schema_defaults("feedforward"), "train": {**train, "videos": []}, **feedforward}}


def test_each_mode_reads_the_network_it_paints_with_and_the_video_takes_the_right_stage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gatys = _full_variant("gatys")
    assert plan.network_inputs(gatys, "out") == {"weights": "resources/lossnet/auto.safetensors", "style": "results/out/frames/style",
                                                 "index": "results/out/style_index.json"}
    assert (plan.per_frame_stage(gatys), plan.video_stage(gatys), plan.style_short_side(gatys)) == ("stylized", "stylized", None)
    arbitrary = _full_variant("feedforward", arch="arbitrary")
    assert plan.network_inputs(arbitrary, "out")["weights"] == plan.ARBITRARY_WEIGHTS_FILE
    assert (plan.per_frame_stage(arbitrary), plan.video_stage(arbitrary)) == ("feedforward", "stable")
    assert plan.style_short_side(arbitrary) == arbitrary["feedforward"]["style_size"]


def test_a_model_the_workflow_trains_gets_no_stamp_and_a_model_the_config_names_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trained = _full_variant("feedforward", arch="johnson")
    path = plan.model_file(trained)
    assert path.startswith("resources/models/painting-") and path.endswith(".safetensors")
    Path(path).parent.mkdir(parents=True)
    Path(path).write_bytes(b"weights")
    # Stamped only once it exists, it would look new to the next run and redo every chunk.
    assert plan.network_inputs(trained, "out") == {"model": path, "model_stamp": []}
    Path("mine.safetensors").write_bytes(b"weights")
    given = _full_variant("feedforward", arch="johnson", model="mine.safetensors")
    inputs = plan.network_inputs(given, "out")
    assert inputs["model"] == "mine.safetensors" and len(inputs["model_stamp"]) == 1 and Path(inputs["model_stamp"][0]).is_file()
    # Two outputs that train the same model train it once; one with a model given trains nothing.
    assert list(plan.models_to_train({"a": trained, "b": dict(trained), "c": given})) == [plan.model_id(trained)]


def test_flow_covers_what_gatys_looks_back_to_and_nothing_more_in_feedforward_mode():
    gatys = _full_variant("gatys")
    gatys["gatys"].update(long_term=(1, 2, 4), temporal_weight=100.0)
    assert plan.flow_offsets(gatys) == [1, 2, 4] and plan.frames_looked_back(gatys) == 4
    assert plan.flow_offsets({**gatys, "mode": "feedforward"}) == [1], "feed-forward mode ignores the gatys block"
    gatys["gatys"].update(temporal_weight=0.0, init="content")
    assert plan.flow_offsets(gatys) == [1] and plan.frames_looked_back(gatys) == 0


def test_a_real_run_stops_before_any_job_when_the_disk_is_full(tmp_path, monkeypatch):
    import shutil

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(100 << 30, 100 << 30, 1 << 20))
    with pytest.raises(StylepipeError, match="free"):
        plan.before_run(tmp_path / "results", ["out"], ["--cores", "2"])
    assert plan.before_run(tmp_path / "results", ["out"], ["-n"]) == [], "a dry run only looks"


def test_the_networks_frames_are_removed_once_blended_unless_kept_or_encoded_directly():
    blended = {"mode": "feedforward", "temporal": {"method": "auto"}}
    direct = {"mode": "feedforward", "temporal": {"method": "none"}}
    gatys = {"mode": "gatys", "temporal": {"method": "auto"}}
    assert plan.network_frames_are_temporary(False, {"out": gatys, "fast": blended})
    assert not plan.network_frames_are_temporary("true", {"out": gatys, "fast": blended}), "keep_intermediates"
    # A later encode or report page of an output that encodes them would otherwise run the network again.
    assert not plan.network_frames_are_temporary(False, {"fast": blended, "raw": direct})
