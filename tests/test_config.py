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
    assert config["encode"] == {"crf": 18, "codec": "h264", "audio": "copy"}
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


def test_gram_window_is_still_read_as_window():
    assert validate({"style_video": {"gram_window": 3}}, SCHEMA)["style_video"] == {"match": "stretch", "window": 3}
    assert validate({"style_video": {"window": 2, "gram_window": 3}}, SCHEMA)["style_video"]["window"] == 2
    assert validate({}, SCHEMA)["style_video"]["window"] == 1


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"gatys": {"iteratons": 5}}, "unknown key 'gatys.iteratons'"),
        ({"colour": 1}, "unknown key 'colour'"),
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
