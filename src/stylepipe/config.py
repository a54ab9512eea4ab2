"""Config validation against workflow/schemas/config.schema.yaml, defaults, and named variants.

Errors are one line that names the key, raised as StylepipeError before any job runs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from stylepipe.errors import ConfigKeyError, StylepipeError

TOP_LEVEL_NAME = "out"
# Keys about the whole Snakemake run rather than one output: not in a variant or a batch row.
TOP_LEVEL_ONLY = ("variants", "batch", "warm_start", "keep_intermediates")


def load_schema(path: str | Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


# `--config warm_start=false` gives the string 'false': the words YAML reads as booleans are taken as them.
BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _fill_defaults(config: dict[str, Any], schema: dict[str, Any]) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if sub.get("type") == "boolean" and isinstance(config.get(key), str) and config[key].lower() in BOOLEAN_WORDS:
            config[key] = BOOLEAN_WORDS[config[key].lower()]
        if isinstance(config.get(key), dict) and "properties" in sub:
            _fill_defaults(config[key], sub)
    if isinstance(config.get("style"), list):
        for item in config["style"]:
            if isinstance(item, dict):
                item.setdefault("weight", 1.0)


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path)


def _describe(error: jsonschema.ValidationError, schema: dict[str, Any], prefix: str) -> str:
    where = ".".join(p for p in (prefix, _key_path(error)) if p)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        full = ".".join(p for p in (where, unknown[0]) if p)
        return f"config: unknown key '{full}'; known keys here: {', '.join(known)}"
    if error.validator == "enum":
        return f"config key '{where}': {error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "minLength" and error.instance == "":
        return f"config key '{where}': is empty; give the path of a file"
    if "propertyNames" in error.schema_path:
        return f"config key '{where}.{error.instance}': that variant name is not allowed (use letters, digits, _ and -; 'out' is the top level)"
    if where.split(".")[0] == "style":
        return f"config key '{where}': must be a path, or a list of paths or {{path, weight}} entries"
    if error.validator == "oneOf":
        # Name what each alternative wants, rather than jsonschema's "not valid under any of the given schemas".
        wants = [_wanted(option) for option in error.validator_value]
        return f"config key '{where}': {error.instance!r} is not {' or '.join(wants)}"
    return f"config key '{where or '(top level)'}': {error.message}"


def _wanted(option: dict[str, Any]) -> str:
    if "const" in option:
        return repr(option["const"])
    if "enum" in option:
        return " or ".join(map(repr, option["enum"]))
    kind = {"integer": "a whole number", "number": "a number", "string": "a string", "array": "a list",
            "boolean": "true or false", "object": "a mapping"}.get(option.get("type"), str(option.get("type", "something else")))
    bounds = [f"at least {option['minimum']}" if "minimum" in option else "",
              f"at most {option['maximum']}" if "maximum" in option else ""]
    return " ".join([kind, *filter(None, bounds)])


# `chunk_frames: auto`: a Gatys frame takes seconds, so small chunks lose little on resume; a feed-forward frame
# takes milliseconds, so each job's start (Python, torch, the model: about 2 s) must be spread over many frames.
# 250 frames (10 s of 25 fps video) are 4 s of network at 320 px on a 2-core CPU and a minute or two at 1080p.
AUTO_CHUNK_FRAMES = {"gatys": 8, "feedforward": 250}
# `flow.preset: auto`: Gatys mode carries its strokes along the flow and spends seconds a frame anyway; feed-forward
# mode only blends along it, at milliseconds a frame (stylepipe.flow, `fine`).
AUTO_FLOW_PRESET = {"gatys": "fine", "feedforward": "medium"}
# `flow.width: auto` in feed-forward mode. On a 720p clip with exact motion (bench/real_resolution.py), flow from
# 640 px run to its finest scale left the blended frames' true warping error 8% above the full-size flow's, in 60%
# of the time and a twenty-fifth of the disk (docs/performance.md). Gatys mode carries its strokes along the flow at
# seconds a frame, so it keeps the output's width.
FEEDFORWARD_FLOW_WIDTH = 640


def _resolve_derived(config: dict[str, Any]) -> None:
    """Turn `auto` into the values the rules use."""
    if config.get("chunk_frames") == "auto":
        config["chunk_frames"] = AUTO_CHUNK_FRAMES[config["mode"]]
    if config["flow"].get("preset") == "auto":
        config["flow"]["preset"] = AUTO_FLOW_PRESET[config["mode"]]
    if config["flow"].get("width") == "auto":
        capped = config["mode"] == "feedforward"
        config["flow"]["width"] = min(config["width"], FEEDFORWARD_FLOW_WIDTH) if capped else config["width"]


def _check_style_weights(style: Any, prefix: str) -> None:
    """A weight of 0 or less is its own mistake; the schema's oneOf would only say the style list is malformed."""
    if not isinstance(style, list):
        return
    for number, item in enumerate(style):
        weight = item.get("weight") if isinstance(item, dict) else None
        if isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight <= 0:
            where = ".".join(p for p in (prefix, f"style.{number}.weight") if p)
            raise ConfigKeyError(f"config key '{where}': {weight} is not more than 0; leave a style out of the list instead", "style")
        if isinstance(item, str) and not item or isinstance(item, dict) and item.get("path") == "":
            where = ".".join(p for p in (prefix, f"style.{number}") if p)
            raise ConfigKeyError(f"config key '{where}': the path is empty; give the path of a file", "style")


def validate(config: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A validated copy of `config` with every default filled in; raises StylepipeError naming the key."""
    if config is None:
        config = {}  # an empty config.yaml: every key has a default
    if not isinstance(config, dict):
        raise StylepipeError("config: expected a mapping of keys to values")
    _check_style_weights(config.get("style"), prefix)
    filled = copy.deepcopy(config)
    _fill_defaults(filled, schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(filled), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        # The deepest error is the most specific; oneOf reports its own summary at the parent.
        error = errors[0]
        key = _key_path(error)
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            key = ".".join(p for p in (key, unknown[0] if unknown else "") if p)
        raise ConfigKeyError(_describe(error, schema, prefix), key)
    _resolve_derived(filled)
    return filled


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_variants(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Map every output name (`out` and each variant) to its full, validated config."""
    config = config or {}
    base = validate(config, schema)
    plain = {key: value for key, value in config.items() if key != "variants"}
    resolved = {TOP_LEVEL_NAME: {k: v for k, v in base.items() if k != "variants"}}
    for key in TOP_LEVEL_ONLY:
        resolved[TOP_LEVEL_NAME].pop(key, None)
    for name, override in base["variants"].items():
        for key in TOP_LEVEL_ONLY:
            if key in override:
                raise StylepipeError(f"config key 'variants.{name}.{key}': only the top level can have {key}")
        merged = validate(deep_merge(plain, override), schema, prefix=f"variants.{name}")
        for key in TOP_LEVEL_ONLY:
            merged.pop(key, None)
        resolved[name] = merged
    return resolved


def merge_config_file(config: dict[str, Any], path: str | Path) -> None:
    """Put the keys of `path` (when it exists) under those already in `config`, which came from the command line."""
    path = Path(path)
    if not path.is_file():
        return
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise StylepipeError(f"{path}: not readable YAML ({str(exc).splitlines()[0][:160]})") from None
    if loaded is None:
        return
    if not isinstance(loaded, dict):
        raise StylepipeError(f"{path}: expected keys at the top level, found a {type(loaded).__name__}")
    given = copy.deepcopy(config)
    config.clear()
    config.update(deep_merge(loaded, given))


def unknown_variant_message(name: str, known: list[str]) -> str:
    return f"results/{name}.mp4: no variant named '{name}'; known names: {', '.join(sorted(known))} (add it under 'variants:' in config.yaml)"
