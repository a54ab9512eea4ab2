"""What the workflow decides while it builds the DAG: which chunks a chunk waits for, the temporal method, thread
counts, a trained model's name, which cached folders to set aside, whether to start the warm server.

The rules' input functions call these with what Snakemake hands them; everything here is plain data in, plain data
out, and torch-free (every dry run, no-op rerun and cluster job parses the workflow).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from stylepipe.arbitrary_files import ARBITRARY_WEIGHTS_FILE
from stylepipe.batch import read_batch
from stylepipe.config import BOOLEAN_WORDS, TOP_LEVEL_NAME, TOP_LEVEL_ONLY, load_schema, resolve_variants
from stylepipe.errors import StylepipeError
from stylepipe.fingerprint import stamps
from stylepipe.frames import DamagedCacheError, check_folder, chunk_layout as layout_chunks, set_aside
from stylepipe.preflight import check_free_space, trains_per_style, uses_arbitrary_network
from stylepipe.settings import LOSS_NETWORK_SOURCES, GatysSettings, TrainSettings, model_name
from stylepipe.style import parse_style_sources

# Snakemake options with which an invocation only looks (a dry run, lint, a summary...): a damaged cache is then
# reported, not moved. Snakemake has not chosen an executor yet while it parses, so `workflow.dryrun` cannot say.
LOOKING_FLAGS = frozenset({
    "--dry-run", "--dryrun", "--lint", "--unlock", "--summary", "--detailed-summary", "--dag", "--rulegraph",
    "--filegraph", "--d3dag", "--report", "--touch", "--list-rules", "--list-target-rules", "--list-changes",
    "--list-code-changes", "--list-input-changes", "--list-params-changes", "--lc", "--li", "--lp", "--cleanup-metadata",
})
# Their one-letter forms, which may be bundled (-nq).
LOOKING_LETTERS = frozenset("nlSDt")
# The folders of frames each output caches, under results/<name>/.
CACHED_FRAME_FOLDERS = ("frames/content", "frames/style")
CACHED_CHUNK_STAGES = ("stylized", "feedforward", "stable")
# The demo's inputs, which the workflow itself makes (rule demo): they need not exist while it parses.
DEMO_FILES = {
    "content": "resources/demo/content.mp4",
    "style_video": "resources/demo/style.mp4",
    "style_image": "resources/demo/style.png",
}
GENERATED = tuple(DEMO_FILES.values())


def outputs_to_render(config: dict[str, Any], schemas: Path, generated: Sequence[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str], list[str]]:
    """Every output the workflow can render, validated with its defaults filled in: the top-level config (`out`), its
    variants and the rows of a batch sheet (`batch:`); where each row came from (for error lines); and the outputs a
    run with no target renders (the rows, else `out`)."""
    schema = load_schema(schemas / "config.schema.yaml")
    variants = resolve_variants(config, schema)
    rows = []
    if config.get("batch"):
        shared = {key: value for key, value in config.items() if key not in TOP_LEVEL_ONLY}
        rows = read_batch(config["batch"], shared, schema, load_schema(schemas / "batch.schema.yaml"), generated=tuple(generated))
    for row in rows:
        if row.name in variants:
            raise StylepipeError(f"{row.where}: output name '{row.name}' is also a variant in config.yaml; name the row differently")
        variants[row.name] = row.config
    return variants, {row.name: row.where for row in rows}, [row.name for row in rows] or [TOP_LEVEL_NAME]


def only_looks(argv: Sequence[str]) -> bool:
    """Whether Snakemake's command line `argv` (without the program) only looks at the workflow."""
    for arg in argv:
        if arg.split("=")[0] in LOOKING_FLAGS:
            return True
        if arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) & LOOKING_LETTERS:
            return True
    return False


def before_run(results: Path, names: Iterable[str], argv: Sequence[str]) -> list[str]:
    """Checks made once, before any job: enough free disk to start (unless the invocation only looks), and damaged
    cached folders set aside (only reported when it looks). Returns the lines to print."""
    looking = only_looks(argv)
    if not looking:
        check_free_space()
    return set_aside_damaged(results, names, looking)


def cached_folders(root: Path) -> list[Path]:
    """The cached frame folders of one output (results/<name>) that exist."""
    folders = [root / name for name in CACHED_FRAME_FOLDERS]
    for stage in CACHED_CHUNK_STAGES:
        folders += sorted((root / stage).glob("chunk_*"))
    return [folder for folder in folders if folder.is_dir()]


def set_aside_damaged(results: Path, names: Iterable[str], looking: bool) -> list[str]:
    """Check every cached folder of the outputs `names` against its manifest (names and sizes: a stat per file) and
    set aside those that do not match, so that this run redoes them; when only `looking`, say so and move nothing.
    Returns one line per damaged folder."""
    lines = []
    for name in names:
        for folder in cached_folders(results / name):
            try:
                check_folder(folder, contents=False)
            except DamagedCacheError as err:
                if looking:
                    lines.append(f"{err}; a real run sets it aside and redoes it")
                else:
                    lines.append(f"{err}; set aside as {set_aside(folder).name}, and redone by this run")
    return lines


def chunk_layout(variant: Mapping[str, Any], shots: Sequence[Sequence[int]]) -> list[dict[str, int]]:
    """The output's chunks, each chain's consecutive: {start, end, shot, shot_start, chain, chain_start, segment_start}.

    In Gatys mode no chunk spans a cut, and a chain is a shot, or a segment of one (`gatys.segment_frames`), which starts
    `gatys.segment_overlap` frames before its segment. Feed-forward chunks ignore the cuts: their frames are stylised one
    by one, and the blend starts afresh at a cut because no flow crosses it, so the clip needs as few jobs as
    `chunk_frames` allows.
    """
    gatys = variant["mode"] == "gatys"
    segments = variant["gatys"]["segment_frames"] if gatys else 0
    return layout_chunks(shots, variant["chunk_frames"], segments, variant["gatys"]["segment_overlap"], follow_cuts=gatys)


def loss_network_file(variant: Mapping[str, Any]) -> str:
    """The loss network's weights file: a named source converted once into resources/lossnet/, or the path given."""
    spec = variant["loss_network"]["weights"]
    return f"resources/lossnet/{spec}.safetensors" if spec in LOSS_NETWORK_SOURCES else spec


def chain_before(layout: Sequence[Mapping[str, int]], number: int, frames_back: int) -> list[int]:
    """Chunk numbers of chunk `number`'s chain that hold any of the `frames_back` frames before its first frame."""
    first = layout[number]["start"] - frames_back
    earlier = []
    # A chain's chunks are consecutive, so walk back until the chain or the frames looked back to run out.
    for k in range(number - 1, -1, -1):
        if layout[k]["chain"] != layout[number]["chain"] or layout[k]["end"] <= first:
            break
        earlier.append(k)
    return earlier[::-1]


def temporal_method(variant: Mapping[str, Any]) -> str:
    """`auto` means blend for feed-forward output; Gatys mode has its own temporal loss."""
    method = variant["temporal"]["method"]
    if method == "auto":
        return "blend" if variant["mode"] == "feedforward" else "none"
    return method


def per_frame_stage(variant: Mapping[str, Any]) -> str:
    """The folder under results/<name>/ where the style mode writes its chunks."""
    return "feedforward" if variant["mode"] == "feedforward" else "stylized"


def video_stage(variant: Mapping[str, Any]) -> str:
    """The folder whose chunks make the video: the stabilised ones when the temporal method is blend."""
    return "stable" if temporal_method(variant) == "blend" else per_frame_stage(variant)


def flow_offsets(variant: Mapping[str, Any]) -> list[int]:
    """Offsets the flow stage covers: 1 always (the blend and the report's warping error), plus what Gatys mode looks
    back to."""
    looked_back = GatysSettings.from_config(variant["gatys"]).previous_offsets if variant["mode"] == "gatys" else ()
    return sorted({1, *looked_back})


def frames_looked_back(variant: Mapping[str, Any]) -> int:
    """How many frames before a chunk a Gatys chunk reads (its warm start and temporal loss); 0 when frames stand alone."""
    settings = GatysSettings.from_config(variant["gatys"])
    return max(settings.previous_offsets) if settings.uses_previous_frames else 0


def network_inputs(variant: Mapping[str, Any], name: str) -> dict[str, Any]:
    """What a job that paints with the variant's method reads besides the content: the loss network (Gatys) or the
    arbitrary-style network, each with the style frames; or the per-style model, with a stamp of its bytes."""
    style = {"style": f"results/{name}/frames/style", "index": f"results/{name}/style_index.json"}
    if variant["mode"] == "gatys":
        return {"weights": loss_network_file(variant), **style}
    if uses_arbitrary_network(variant):
        return {"weights": ARBITRARY_WEIGHTS_FILE, **style}
    model = model_file(variant)
    # A model this workflow trains is newer than what it feeds whenever it is trained again; stamping it only once it
    # exists would make the next run redo every chunk. Only a model the config names needs a stamp.
    return {"model": model, "model_stamp": stamps([model]) if variant["feedforward"]["model"] else []}


def style_short_side(variant: Mapping[str, Any]) -> int | None:
    """The shorter side style frames are cut to: the arbitrary network's predictor needs enough pixels for its square
    input; the loss network takes them as they are."""
    return variant["feedforward"]["style_size"] if uses_arbitrary_network(variant) else None


def flow_threads(chunk: Mapping[str, int], cores: int, run: int) -> int:
    """A flow job's threads share its chunk in runs of `run` frames: no more threads than runs, nor than cores."""
    return max(1, min(cores, -(-(chunk["end"] - chunk["start"]) // run)))


def stabilize_threads(chunk: Mapping[str, int], shots: Sequence[Sequence[int]], cores: int) -> int:
    """A stabilise job's threads take the runs between the cuts inside its chunk side by side."""
    cuts = [start for start, _ in shots if chunk["start"] < start < chunk["end"]]
    return max(1, min(cores, 1 + len(cuts)))


def training_videos(variant: Mapping[str, Any], demo_content: str) -> list[str]:
    """What a per-style network trains on: `feedforward.train.videos`, else the content video and the demo clip."""
    videos = variant["feedforward"]["train"]["videos"]
    return videos or list(dict.fromkeys([variant["content"], demo_content]))


def training_start(variant: Mapping[str, Any]) -> list[str]:
    """The weights a per-style network starts from: the arbitrary network's for `arch: finetuned`, none from scratch."""
    return [ARBITRARY_WEIGHTS_FILE] if variant["feedforward"]["arch"] == "finetuned" else []


def model_id(variant: Mapping[str, Any], generated: Sequence[str] = GENERATED, demo_content: str = DEMO_FILES["content"]) -> str:
    """Names the model a feed-forward variant trains, from its style, training videos, loss network and every training
    knob. A style file's bytes count too, except the `generated` demo files, whose bytes do not exist yet when the
    workflow is parsed (they are named by path)."""
    style = parse_style_sources(variant["style"])[0].path
    settings = TrainSettings.from_config(variant["feedforward"]["train"], variant["feedforward"]["arch"])
    key = {"style": style, "videos": training_videos(variant, demo_content), "weights": variant["loss_network"]["weights"]}
    if training_start(variant):
        key["start"] = {"weights": training_start(variant), "style_size": variant["feedforward"]["style_size"]}
    # A missing file only matters if its variant is requested, and then the pre-flight check reports it.
    if style not in generated and Path(style).is_file():
        key["style_bytes"] = hashlib.sha256(Path(style).read_bytes()).hexdigest()
    return model_name(style, settings, key)


def model_file(variant: Mapping[str, Any]) -> str:
    """The per-style network a variant paints with: the model it names, or the one it trains."""
    return variant["feedforward"]["model"] or f"resources/models/{model_id(variant)}.safetensors"


def models_to_train(variants: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Models the run may train, by id, each with a variant that asks for it (variants with the same id train one)."""
    return {model_id(v): v for v in variants.values() if trains_per_style(v) and not v["feedforward"]["model"]}


def network_frames_are_temporary(keep_intermediates: Any, variants: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether the feed-forward network's frames are removed once read (Snakemake `temp`): unless asked to keep
    them, when every feed-forward output blends them, so that only the blend and the report, which a video always
    waits for, read them. An output that encodes them directly (`temporal.method: none`) keeps them: were they
    removed, a later encode or report page would run the network again. Rules are declared once for every output,
    so one such output keeps them for all."""
    if BOOLEAN_WORDS.get(str(keep_intermediates).lower(), keep_intermediates):
        return False
    return all(video_stage(variant) == "stable" for variant in variants.values() if variant["mode"] == "feedforward")


def wants_warm_server(warm_start: bool, local: bool, deployment: Any, rules_to_run: Iterable[str], has_checkpoint: bool,
                      warm_rules: Iterable[str]) -> bool:
    """Whether to start the warm-start server: asked for, jobs run here in this Python (not on a cluster, not under
    --use-conda or in containers), and the run has a job that imports torch, or a checkpoint (the shot list) after which
    the stylise jobs join the DAG."""
    if not warm_start or not local or deployment:
        return False
    return has_checkpoint or bool(set(rules_to_run) & set(warm_rules))
