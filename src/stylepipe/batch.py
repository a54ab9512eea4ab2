"""A batch sheet (`batch: runs.tsv`): one output per row, each row a variant written as a line of a table.

Columns: `content` and `style` (a path or a glob), an optional `name`, and any config key as a further column
(`mode`, `width`, `gatys.style_weight`...). Globs expand to every match, and a row with both columns globbed
gives their cross product. Every error is one line naming the sheet's row and column.
"""

from __future__ import annotations

import copy
import csv
import glob
import itertools
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from stylepipe.config import TOP_LEVEL_NAME, TOP_LEVEL_ONLY, deep_merge, validate
from stylepipe.errors import ConfigKeyError, StylepipeError

PATH_COLUMNS = ("content", "style")
NOT_COLUMNS = TOP_LEVEL_ONLY
GLOB_CHARACTERS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class BatchRow:
    """One output of the sheet: its name, its full validated config, and where it came from."""

    name: str
    config: dict[str, Any]
    where: str


def _read_table(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank, non-comment line; the first is the header."""
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise StylepipeError(f"config key 'batch': no such file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StylepipeError(f"{path}: not a readable text table ({exc})") from None
    rows = []
    for number, cells in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), start=1):
        cells = [cell.strip() for cell in cells]
        if not any(cells) or cells[0].startswith("#"):
            continue
        rows.append((number, cells))
    return rows


def _check_column(sheet: Path, column: str, schema: dict[str, Any]) -> None:
    """A column other than name/content/style must be a config key, dotted for nested ones."""
    where = f"{sheet} line 1 (header), column '{column}'"
    if column in NOT_COLUMNS:
        raise StylepipeError(f"{where}: '{column}' cannot be set per row")
    node = schema
    for depth, part in enumerate(column.split(".")):
        known = node.get("properties", {})
        if part not in known:
            parent = ".".join(column.split(".")[:depth]) or "the top level"
            raise StylepipeError(f"{where}: not a config key; known keys under {parent}: {', '.join(sorted(set(known) - set(NOT_COLUMNS)))}")
        node = known[part]


def _cell_value(cell: str) -> Any:
    """Numbers, booleans and lists as YAML reads them, so `0.5`, `true` and `[0.5, 1.0]` mean what they say."""
    try:
        return yaml.safe_load(cell)
    except yaml.YAMLError:
        return cell


def _nested(column: str, value: Any) -> dict[str, Any]:
    parts = column.split(".")
    override: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        override = {part: override}
    return override


def _expand(pattern: str, where: str, generated: Collection[str]) -> list[str]:
    if GLOB_CHARACTERS.search(pattern):
        matches = sorted(path for path in glob.glob(pattern) if Path(path).is_file())
        if not matches:
            raise StylepipeError(f"{where}: '{pattern}' matches no file")
        return matches
    if pattern not in generated and not Path(pattern).is_file():
        raise StylepipeError(f"{where}: no such file {pattern}")
    return [pattern]


def _stem(path: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(path).stem).strip("-_")
    return stem or "file"


def _column_of(key: str, columns: list[str]) -> str:
    """The sheet column a config error belongs to: the one that set that key or a key above it."""
    for column in sorted(columns, key=len, reverse=True):
        if key == column or key.startswith(column + "."):
            return column
    return key or "(row)"


def read_batch(
    sheet: str | Path,
    base: dict[str, Any],
    config_schema: dict[str, Any],
    row_schema: dict[str, Any],
    generated: Collection[str] = (),
) -> list[BatchRow]:
    """Every output of `sheet`, each with `base` (the top-level config, without variants) under its row's keys.

    Raises StylepipeError naming the row and column of the first problem; nothing is written.
    """
    sheet = Path(sheet)
    table = _read_table(sheet)
    if not table:
        raise StylepipeError(f"{sheet}: no header line; give at least the columns content and style")
    header_line, header = table[0]
    for column in header:
        if not column:
            raise StylepipeError(f"{sheet} line {header_line} (header): a column has no name")
        if header.count(column) > 1:
            raise StylepipeError(f"{sheet} line {header_line} (header), column '{column}': appears twice")
        if column not in ("name", *PATH_COLUMNS):
            _check_column(sheet, column, config_schema)
    validator = jsonschema.Draft7Validator(row_schema)
    rows: list[BatchRow] = []
    origins: dict[str, str] = {}
    for row_number, (line, cells) in enumerate(table[1:], start=1):
        here = f"{sheet} row {row_number} (line {line})"
        if len(cells) > len(header):
            raise StylepipeError(f"{here}: {len(cells)} cells but the header has {len(header)} columns")
        values = {column: cell for column, cell in zip(header, cells) if cell != ""}
        for error in sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path)):
            column = error.absolute_path[0] if error.absolute_path else None
            if error.validator == "required":
                column = error.message.split("'")[1]
                raise StylepipeError(f"{here}, column '{column}': is empty; give a path or a glob")
            raise StylepipeError(f"{here}, column '{column}': {error.message}")
        settings: dict[str, Any] = {}
        for column, cell in values.items():
            if column not in ("name", *PATH_COLUMNS):
                settings = deep_merge(settings, _nested(column, _cell_value(cell)))
        contents = _expand(values["content"], f"{here}, column 'content'", generated)
        styles = _expand(values["style"], f"{here}, column 'style'", generated)
        expanded = len(contents) > 1 or len(styles) > 1 or any(GLOB_CHARACTERS.search(values[c]) for c in PATH_COLUMNS)
        for content, style in itertools.product(contents, styles):
            parts = [values["name"]] if "name" in values else []
            if expanded or not parts:
                parts += [_stem(content), _stem(style)]
            name = "__".join(parts)
            if name == TOP_LEVEL_NAME or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
                raise StylepipeError(f"{here}, column 'name': '{name}' cannot name an output (use letters, digits, _ and -; 'out' is the top level)")
            if name in origins:
                raise StylepipeError(f"{here}: output name '{name}' is also made by {origins[name]}; give the rows different names")
            origins[name] = here
            override = deep_merge(settings, {"content": content, "style": style})
            try:
                config = validate(deep_merge(copy.deepcopy(base), override), config_schema)
            except ConfigKeyError as err:
                raise StylepipeError(f"{here}, column '{_column_of(err.key, list(values))}': {err}") from None
            for key in NOT_COLUMNS:
                config.pop(key, None)
            rows.append(BatchRow(name, config, here))
    return rows
