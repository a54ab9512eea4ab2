from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stylepipe.config import load_schema, resolve_variants, validate
from stylepipe.errors import StylepipeError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")


def test_defaults_fill_every_missing_key():
    config = validate({}, SCHEMA)
    assert config["gatys"]["style_weight"] == 100.0
    assert config["encode"] == {"crf": 18, "codec": "h264", "audio": "copy", "pix_fmt": "yuv420p"}
    assert config["loss_network"]["weights"] == "auto"


def test_shipped_config_is_valid_and_documents_every_key():
    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    variants = resolve_variants(shipped, SCHEMA)
    assert {"out", "independent", "stylevideo", "strong", "fast"} <= set(variants)
    text = (REPO / "config.yaml").read_text()
    for key, sub in SCHEMA["properties"].items():
        assert f"{key}:" in text
        for inner, spec in sub.get("properties", {}).items():
            if not spec.get("deprecated"):
                assert f"{inner}:" in text, f"config.yaml does not show {key}.{inner}"


def test_chunk_frames_auto_depends_on_the_mode():
    variants = resolve_variants({"variants": {"ff": {"mode": "feedforward"}, "mine": {"chunk_frames": 5}}}, SCHEMA)
    assert (variants["out"]["chunk_frames"], variants["ff"]["chunk_frames"], variants["mine"]["chunk_frames"]) == (8, 250, 5)


def test_booleans_given_as_words_on_the_command_line_are_booleans():
    # `snakemake --config warm_start=false` hands the config the string 'false'.
    assert validate({"warm_start": "false"}, SCHEMA)["warm_start"] is False
    assert validate({"warm_start": "True"}, SCHEMA)["warm_start"] is True


def test_the_style_window_defaults_to_one_frame_either_side():
    assert validate({}, SCHEMA)["style_video"] == {"match": "stretch", "window": 1}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"gatys": {"iteratons": 5}}, "unknown key 'gatys.iteratons'"),
        ({"colour": 1}, "unknown key 'colour'"),
        ({"style_video": {"gram_window": 3}}, "unknown key 'style_video.gram_window'"),
        ({"gatys": {"anchor_iterations": 10}}, "unknown key 'gatys.anchor_iterations'"),
        ({"chunk_frames": 0}, "'chunk_frames': 0 is not a whole number at least 1 or 'auto'"),
        ({"mode": "fast"}, "'mode': 'fast' is not one of gatys, feedforward"),
        ({"encode": {"crf": 70}}, "'encode.crf'"),
        ({"width": "wide"}, "'width'"),
        ({"style": [{"weight": 1}]}, "'style"),
        ({"variants": {"out": {}}}, "'variants.out'"),
        ({"variants": {"v": {"gatys": {"sytle_weight": 1}}}}, "unknown key 'variants.v.gatys.sytle_weight'"),
    ],
)
def test_bad_config_names_the_key(config, message):
    with pytest.raises(StylepipeError, match=message.replace("(", r"\(")) as info:
        resolve_variants(config, SCHEMA)
    assert "\n" not in str(info.value)


def test_variants_override_only_what_they_name():
    variants = resolve_variants({"width": 256, "variants": {"big": {"width": 512}, "soft": {"gatys": {"tv_weight": 0.1}}}}, SCHEMA)
    assert variants["out"]["width"] == 256 and variants["big"]["width"] == 512
    assert variants["soft"]["gatys"]["tv_weight"] == 0.1 and variants["soft"]["gatys"]["style_weight"] == 100.0
    assert variants["soft"]["width"] == 256
    assert "variants" not in variants["big"]


def test_the_settings_objects_default_to_the_schema_defaults():
    from stylepipe.settings import GatysSettings, TrainSettings

    config = validate({}, SCHEMA)
    assert GatysSettings() == GatysSettings.from_config(config["gatys"])
    assert TrainSettings() == TrainSettings.from_config(config["feedforward"]["train"], "johnson")
    assert GatysSettings().iterations == SCHEMA["properties"]["gatys"]["properties"]["iterations"]["default"]


def test_keep_intermediates_is_top_level_only():
    assert validate({"keep_intermediates": "yes"}, SCHEMA)["keep_intermediates"] is True
    with pytest.raises(StylepipeError, match="keep_intermediates"):
        resolve_variants({"variants": {"v": {"keep_intermediates": True}}}, SCHEMA)
