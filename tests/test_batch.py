"""Batch sheets: rows become outputs, globs expand, and a bad row stops with one line naming its row and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import make_workdir, rules_run, run_snakemake, tiny_config
from stylepipe.batch import read_batch
from stylepipe.config import load_schema
from stylepipe.errors import StylepipeError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
ROW_SCHEMA = load_schema(REPO / "workflow/schemas/batch.schema.yaml")


@pytest.fixture()
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("clips/beach.mp4", "clips/city walk.mp4", "art/starry.png", "art/scream.jpg", "other.png"):
        Path(name).parent.mkdir(exist_ok=True)
        Path(name).write_bytes(b"x")
    return tmp_path


def sheet(text: str, name: str = "runs.tsv") -> str:
    Path(name).write_text(text.replace("|", "\t") if name.endswith(".tsv") else text)
    return name


def test_globs_give_the_cross_product_with_readable_names(files):
    rows = read_batch(sheet("content|style|width\nclips/*.mp4|art/*|96\n"), {}, SCHEMA, ROW_SCHEMA)
    assert [row.name for row in rows] == ["beach__scream", "beach__starry", "city-walk__scream", "city-walk__starry"]
    assert {row.config["width"] for row in rows} == {96}
    assert rows[2].config["content"] == "clips/city walk.mp4" and rows[2].config["style"] == "art/scream.jpg"


def test_extra_columns_are_typed_config_keys_over_the_top_level(files):
    text = ("# comment lines and blank lines are skipped\n\nname,content,style,gatys.style_weight,mode,gatys.scales\n"
            "mine,clips/beach.mp4,other.png,250,feedforward,\"[0.25, 1.0]\"\n")
    (row,) = read_batch(sheet(text, "runs.csv"), {"width": 64, "gatys": {"tv_weight": 0.5}}, SCHEMA, ROW_SCHEMA)
    assert row.name == "mine" and row.config["mode"] == "feedforward"
    assert row.config["gatys"]["style_weight"] == 250 and row.config["gatys"]["scales"] == [0.25, 1.0]
    assert row.config["gatys"]["tv_weight"] == 0.5 and row.config["width"] == 64
    assert row.config["chunk_frames"] == 250  # auto, resolved for the row's own mode
    assert "batch" not in row.config and "variants" not in row.config


def test_a_named_row_with_a_glob_keeps_its_name_as_a_prefix(files):
    rows = read_batch(sheet("name|content|style\nsoft|clips/beach.mp4|art/s*\n"), {}, SCHEMA, ROW_SCHEMA)
    assert [row.name for row in rows] == ["soft__beach__scream", "soft__beach__starry"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("content|style\nclips/beach.mp4|art/missing.png\n", "runs.tsv row 1 (line 2), column 'style': no such file art/missing.png"),
        ("content|style\nclips/beach.mp4|art/starry.png\nclips/*.avi|other.png\n", "runs.tsv row 2 (line 3), column 'content': 'clips/*.avi' matches no file"),
        ("content|style|gatys.style_wieght\nclips/beach.mp4|other.png|3\n", "runs.tsv line 1 (header), column 'gatys.style_wieght': not a config key"),
        ("content|style|colour\nclips/beach.mp4|other.png|red\n", "column 'colour': not a config key"),
        ("content|style|width\nclips/beach.mp4|other.png|wide\n", "runs.tsv row 1 (line 2), column 'width': config key 'width': 'wide' is not of type 'integer'"),
        ("content|style|gatys.optimizer\nclips/beach.mp4|other.png|sgd\n", "column 'gatys.optimizer': config key 'gatys.optimizer': 'sgd' is not one of"),
        ("content|style\nclips/beach.mp4|\n", "runs.tsv row 1 (line 2), column 'style': is empty"),
        ("name|content|style\nout|clips/beach.mp4|other.png\n", "column 'name': 'out' cannot name an output"),
        ("name|content|style\na|clips/beach.mp4|other.png\na|clips/beach.mp4|art/starry.png\n", "row 2 (line 3): output name 'a' is also made by runs.tsv row 1 (line 2)"),
        ("content|style|variants\nclips/beach.mp4|other.png|x\n", "column 'variants': 'variants' cannot be set per row"),
        ("content|style\nclips/beach.mp4|other.png|extra\n", "row 1 (line 2): 3 cells but the header has 2 columns"),
    ],
)
def test_a_bad_sheet_names_the_row_and_column(files, text, expected):
    with pytest.raises(StylepipeError) as info:
        read_batch(sheet(text), {}, SCHEMA, ROW_SCHEMA)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_a_missing_sheet_names_the_key(files):
    with pytest.raises(StylepipeError, match="config key 'batch': no such file nope.tsv"):
        read_batch("nope.tsv", {}, SCHEMA, ROW_SCHEMA)


def test_generated_demo_files_need_not_exist_yet(files):
    (row,) = read_batch(sheet("content|style\nresources/demo/content.mp4|resources/demo/style.png\n"), {}, SCHEMA, ROW_SCHEMA,
                        generated=("resources/demo/content.mp4", "resources/demo/style.png"))
    assert row.name == "content__style"


def test_the_shipped_example_sheet_is_valid():
    demo = ("resources/demo/content.mp4", "resources/demo/style.mp4", "resources/demo/style.png")
    rows = read_batch(REPO / "runs.example.tsv", {}, SCHEMA, ROW_SCHEMA, generated=demo)
    assert len(rows) >= 2 and all(row.config["content"] in demo and row.config["style"] in demo for row in rows)


def batch_workdir(folder: Path, tiny_inputs: dict[str, Path], rows: str) -> Path:
    config = tiny_config(tiny_inputs, batch="runs.tsv", style=str(tiny_inputs["style_rgba"]))
    config.pop("variants")
    config["chunk_frames"] = 8
    config["gatys"].update({"temporal_weight": 0.0, "init": "content", "scales": [1.0], "first_iterations": 4, "iterations": 4})
    workdir = make_workdir(folder, config)
    (workdir / "runs.tsv").write_text(rows)
    return workdir


def test_two_clips_by_two_styles_render_four_outputs_and_a_new_row_only_itself(tiny_inputs, tmp_path):
    workdir = tmp_path / "batch"
    clips, styles = workdir / "clips", workdir / "styles"
    clips.mkdir(parents=True)
    styles.mkdir()
    shutil.copy(tiny_inputs["content"], clips / "one.mp4")
    shutil.copy(tiny_inputs["content"], clips / "two.mp4")
    shutil.copy(tiny_inputs["style_rgba"], styles / "rgba.png")
    shutil.copy(tiny_inputs["style_grey"], styles / "grey.png")
    batch_workdir(workdir, tiny_inputs, "content\tstyle\nclips/*.mp4\tstyles/*.png\n")
    result = run_snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    names = {"one__grey", "one__rgba", "two__grey", "two__rgba"}
    assert {p.stem for p in (workdir / "results").glob("*.mp4")} == names
    assert rules_run(result.stderr)["assemble"] == 4

    # A new row, and a name column that the old row leaves empty: the old outputs keep their names and caches.
    (workdir / "runs.tsv").write_text("name\tcontent\tstyle\n\tclips/*.mp4\tstyles/*.png\nbold\tclips/one.mp4\tstyles/rgba.png\n")
    again = run_snakemake(workdir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p.stem for p in (workdir / "results").glob("*.mp4")} == names | {"bold"}
    ran = rules_run(again.stderr)
    assert ran["assemble"] == 1 and ran["content_frames"] == 1, ran


def test_a_bad_sheet_stops_before_anything_is_written(tiny_inputs, tmp_path):
    workdir = batch_workdir(tmp_path / "bad", tiny_inputs, f"content\tstyle\tgatys.iterations\n{tiny_inputs['content']}\t{tmp_path}/gone.png\t4\n")
    result = run_snakemake(workdir)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("stylepipe:")]
    assert lines == [f"stylepipe: runs.tsv row 1 (line 2), column 'style': no such file {tmp_path}/gone.png"]
    assert "Traceback" not in result.stderr
    assert not (workdir / "results").exists()
