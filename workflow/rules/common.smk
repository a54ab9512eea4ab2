import hashlib
import json
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

# Only torch-free modules here: every dry run, no-op rerun and cluster job parses this file.
from stylepipe import config as stylepipe_config
from stylepipe.arbitrary_files import ARBITRARY_WEIGHTS_FILE
from stylepipe.batch import read_batch
from stylepipe.errors import StylepipeError
from stylepipe.fingerprint import stamps as input_stamps
from stylepipe.flow import FLOW_RUN
from stylepipe.jobs import warm
from stylepipe.frames import DamagedCacheError, check_folder, set_aside
from stylepipe.frames import chunk_layout as layout_chunks
from stylepipe.preflight import check_free_space, preflight, trains_per_style, uses_arbitrary_network
from stylepipe.settings import LOSS_NETWORK_SOURCES as NAMED_SOURCES
from stylepipe.settings import GatysSettings, TrainSettings, model_name
from stylepipe.style import parse_style_sources

min_version("9.0")


report: "../report/workflow.rst"

CONDA_ENV = "../../envs/stylepipe.yaml"
DEMO_FILES = {
    "content": "resources/demo/content.mp4",
    "style_video": "resources/demo/style.mp4",
    "style_image": "resources/demo/style.png",
}


wildcard_constraints:
    name="[A-Za-z0-9][A-Za-z0-9_-]*",
    chunk="[0-9]{4}",


def fail(message):
    """Stop with one line; Snakemake would otherwise print a traceback."""
    sys.exit(f"stylepipe: {message}")


# config.yaml is read here, not by `configfile:`, which refuses an empty file although every key has a default.
# Values given on the command line (--config, --configfile) still win over the file's.
try:
    stylepipe_config.merge_config_file(config, "config.yaml")
except StylepipeError as err:
    fail(err)

# Validate the config and every variant (and fill in defaults) before any job runs.
# A batch sheet's rows join them as variants; `snakemake` with no target renders every row.
SCHEMAS = Path(workflow.current_basedir).parent / "schemas"
try:
    SCHEMA = stylepipe_config.load_schema(SCHEMAS / "config.schema.yaml")
    VARIANTS = stylepipe_config.resolve_variants(config, SCHEMA)
    BATCH_ROWS = []
    if config.get("batch"):
        BATCH_ROWS = read_batch(
            config["batch"],
            {key: value for key, value in config.items() if key not in stylepipe_config.TOP_LEVEL_ONLY},
            SCHEMA,
            stylepipe_config.load_schema(SCHEMAS / "batch.schema.yaml"),
            generated=tuple(DEMO_FILES.values()),
        )
except StylepipeError as err:
    fail(err)
for row in BATCH_ROWS:
    if row.name in VARIANTS:
        fail(f"{row.where}: output name '{row.name}' is also a variant in config.yaml; name the row differently")
    VARIANTS[row.name] = row.config
BATCH_ORIGIN = {row.name: row.where for row in BATCH_ROWS}
# Each output's report page is built with it, so that `snakemake --report` has something to show.
DEFAULT_TARGETS = [
    path
    for name in ([row.name for row in BATCH_ROWS] or [stylepipe_config.TOP_LEVEL_NAME])
    for path in (f"results/{name}.mp4", f"results/{name}/report/overview.html")
]

CHECKED = set()


# Snakemake has not chosen an executor yet while it parses, so `workflow.dryrun` is always False here.
LOOKING_FLAGS = {
    "--dry-run", "--dryrun", "--lint", "--unlock", "--summary", "--detailed-summary", "--dag", "--rulegraph",
    "--filegraph", "--d3dag", "--report", "--touch", "--list-rules", "--list-target-rules", "--list-changes",
    "--list-code-changes", "--list-input-changes", "--list-params-changes", "--lc", "--li", "--lp", "--cleanup-metadata",
}


def only_looks():
    """Whether this invocation only looks (a dry run, lint, a summary...): then a damaged cache is reported, not moved."""
    for arg in sys.argv[1:]:
        if arg.split("=")[0] in LOOKING_FLAGS:
            return True
        if arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) & set("nlSDt"):
            return True
    return False


def check_cached_folders():
    """Set aside every cached frame folder that no longer matches its manifest, so that this run redoes it.

    Names and sizes only (a stat per file): a deleted or truncated frame would otherwise look finished to
    Snakemake. Jobs compare contents too before they read a folder.
    """
    for name in VARIANTS:
        root = Path("results") / name
        if not root.is_dir():
            continue
        folders = [root / "frames/content", root / "frames/style"]
        folders += sorted(root.glob("stylized/chunk_*")) + sorted(root.glob("feedforward/chunk_*")) + sorted(root.glob("stable/chunk_*"))
        for folder in folders:
            if not folder.is_dir():
                continue
            try:
                check_folder(folder, contents=False)
            except DamagedCacheError as err:
                if only_looks():
                    print(f"stylepipe: {err}; a real run sets it aside and redoes it", file=sys.stderr)
                else:
                    moved = set_aside(folder)
                    print(f"stylepipe: {err}; set aside as {moved.name}, and redone by this run", file=sys.stderr)


if workflow.is_main_process:
    if not only_looks():
        try:
            check_free_space()
        except StylepipeError as err:
            fail(err)
    check_cached_folders()


def cfg(wildcards):
    """The full config of the output named by wildcards.name (`out` or a variant).

    Its input files are checked the first time it is asked for, while the DAG is built, so a
    requested output with a bad input stops before any job runs and one not requested costs nothing.
    """
    name = wildcards.name
    if name not in VARIANTS:
        fail(stylepipe_config.unknown_variant_message(name, list(VARIANTS)))
    if name not in CHECKED:
        try:
            preflight(VARIANTS[name], generated=tuple(DEMO_FILES.values()))
        except StylepipeError as err:
            if name in BATCH_ORIGIN:
                fail(f"{BATCH_ORIGIN[name]}: {err}")
            fail(f"{err} (in results/{name}.mp4)" if name != stylepipe_config.TOP_LEVEL_NAME else err)
        CHECKED.add(name)
    return VARIANTS[name]


def content_video(wildcards):
    return cfg(wildcards)["content"]


def style_files(wildcards):
    return [source.path for source in parse_style_sources(cfg(wildcards)["style"])]


# Stamps of the input files' contents (stylepipe.fingerprint): a file replaced by one with an older time still reruns
# what it feeds.
def content_stamp(wildcards):
    return input_stamps([content_video(wildcards)])


def style_stamps(wildcards):
    return input_stamps(style_files(wildcards))


def weights_file(variant):
    spec = variant["loss_network"]["weights"]
    return f"resources/lossnet/{spec}.safetensors" if spec in NAMED_SOURCES else spec


def loss_network_weights(wildcards):
    return weights_file(cfg(wildcards))


# Every chunk job's params and inputs ask for the layout while the DAG is built: read each shots.json once.
# (name, its mtime) -> (shots, chunk layout)
SHOTS = {}


def shots_and_layout(wildcards):
    shots_path = Path(checkpoints.shots.get(name=wildcards.name).output.shots)
    key = (wildcards.name, shots_path.stat().st_mtime_ns)
    if key not in SHOTS:
        variant = cfg(wildcards)
        shots = json.loads(shots_path.read_text())["shots"]
        gatys = variant["mode"] == "gatys"
        segments = variant["gatys"]["segment_frames"] if gatys else 0
        layout = layout_chunks(shots, variant["chunk_frames"], segments, variant["gatys"]["segment_overlap"], follow_cuts=gatys)
        SHOTS[key] = (shots, layout)
    return SHOTS[key]


def shot_list(wildcards):
    """The variant's shots, [[start, end], ...], once its shots.json exists."""
    return shots_and_layout(wildcards)[0]


def chunk_layout(wildcards):
    """The variant's chunks, known once its shots are; each chain's are consecutive.

    Each is {start, end, shot, shot_start, chain, chain_start, segment_start}. In Gatys mode no chunk spans a cut,
    and a chain is a shot, or a segment of one (`gatys.segment_frames`), which starts `gatys.segment_overlap` frames
    before its segment. Feed-forward chunks ignore the cuts: their frames are stylised one by one, and the blend
    starts afresh at a cut because no flow crosses it, so the clip needs as few jobs as `chunk_frames` allows.
    """
    return shots_and_layout(wildcards)[1]


def chunk_ids(wildcards):
    return [f"{k:04d}" for k in range(len(chunk_layout(wildcards)))]


def this_chunk(wildcards):
    """The chunk named by wildcards.chunk: its entry in the chunk layout."""
    layout = chunk_layout(wildcards)
    number = int(wildcards.chunk)
    if number >= len(layout):
        fail(f"results/{wildcards.name}: there is no chunk {wildcards.chunk}; the clip has {len(layout)} chunks")
    return dict(layout[number])


def chain_before(wildcards, frames_back):
    """Chunk numbers of the same chain that hold any of the `frames_back` frames before this chunk's first."""
    layout = chunk_layout(wildcards)
    number = int(wildcards.chunk)
    first = layout[number]["start"] - frames_back
    earlier = []
    # A chain's chunks are consecutive, so walk back until the chain or the frames looked back to run out.
    for k in range(number - 1, -1, -1):
        if layout[k]["chain"] != layout[number]["chain"] or layout[k]["end"] <= first:
            break
        earlier.append(k)
    return earlier[::-1]


def temporal_method(variant):
    """`auto` means blend for feed-forward output; Gatys mode has its own temporal loss."""
    method = variant["temporal"]["method"]
    if method == "auto":
        return "blend" if variant["mode"] == "feedforward" else "none"
    return method


def per_frame_folder(wildcards):
    return "feedforward" if cfg(wildcards)["mode"] == "feedforward" else "stylized"


def per_frame_chunks(wildcards):
    """Stylised chunks as the style mode made them, before any stabilisation."""
    folder = per_frame_folder(wildcards)
    return expand("results/{name}/{folder}/chunk_{chunk}", name=wildcards.name, folder=folder, chunk=chunk_ids(wildcards))


def stylized_chunks(wildcards):
    """The chunks that go into the video: stabilised ones when temporal.method is blend."""
    if temporal_method(cfg(wildcards)) == "blend":
        return expand("results/{name}/stable/chunk_{chunk}", name=wildcards.name, chunk=chunk_ids(wildcards))
    return per_frame_chunks(wildcards)


def unstabilised_chunks(wildcards):
    """For the report's before/after figure; nothing when there is no stabilisation."""
    return per_frame_chunks(wildcards) if temporal_method(cfg(wildcards)) == "blend" else []


def raw_chunk(wildcards):
    return f"results/{wildcards.name}/{per_frame_folder(wildcards)}/chunk_{wildcards.chunk}"


def previous_stable(wildcards):
    return [f"results/{wildcards.name}/stable/chunk_{k:04d}" for k in chain_before(wildcards, 1)]


def training_videos(variant):
    videos = variant["feedforward"]["train"]["videos"]
    return videos or list(dict.fromkeys([variant["content"], DEMO_FILES["content"]]))


def model_id(variant):
    """Names the model a feed-forward variant trains; generated demo files are named by path, as their
    bytes do not exist yet when the workflow is parsed."""
    style = parse_style_sources(variant["style"])[0].path
    settings = TrainSettings.from_config(variant["feedforward"]["train"], variant["feedforward"]["arch"])
    key = {"style": style, "videos": training_videos(variant), "weights": variant["loss_network"]["weights"]}
    # A missing file only matters if its variant is requested, and then cfg() reports it.
    if style not in DEMO_FILES.values() and Path(style).is_file():
        key["style_bytes"] = hashlib.sha256(Path(style).read_bytes()).hexdigest()
    return model_name(style, settings, key)


# Models to train, by id, with the variant that asks for each.
MODELS_TO_TRAIN = {
    model_id(variant): variant
    for variant in VARIANTS.values()
    if trains_per_style(variant) and not variant["feedforward"]["model"]
}


def model_file(wildcards):
    variant = cfg(wildcards)
    return variant["feedforward"]["model"] or f"resources/models/{model_id(variant)}.safetensors"


def feedforward_inputs(wildcards):
    """The arbitrary-style network reads the style frames; a per-style network reads its trained model."""
    if uses_arbitrary_network(cfg(wildcards)):
        return {
            "style": f"results/{wildcards.name}/frames/style",
            "index": f"results/{wildcards.name}/style_index.json",
            "weights": ARBITRARY_WEIGHTS_FILE,
        }
    return {"model": model_file(wildcards), "model_stamp": input_stamps([model_file(wildcards)])}


def preview_inputs(wildcards):
    """What the preview stylises with: the loss network, the arbitrary-style network or the trained model."""
    variant = cfg(wildcards)
    if variant["mode"] == "gatys":
        return {"weights": loss_network_weights(wildcards)}
    if uses_arbitrary_network(variant):
        return {"weights": ARBITRARY_WEIGHTS_FILE}
    return {"model": model_file(wildcards), "model_stamp": input_stamps([model_file(wildcards)])}


def fidelity_inputs(wildcards):
    """Gatys mode's report measures style and content distances with the loss network it already has."""
    if cfg(wildcards)["mode"] != "gatys":
        return {}
    return {
        "weights": loss_network_weights(wildcards),
        "style": f"results/{wildcards.name}/frames/style",
        "index": f"results/{wildcards.name}/style_index.json",
    }


def style_short_side(wildcards):
    """Style frames for the arbitrary network keep enough pixels for its predictor's square input."""
    variant = cfg(wildcards)
    return variant["feedforward"]["style_size"] if uses_arbitrary_network(variant) else None


def training_variant(wildcards):
    return MODELS_TO_TRAIN[wildcards.model_id]


def training_weights(wildcards):
    return weights_file(training_variant(wildcards))


def flow_chunks(wildcards):
    return expand("results/{name}/flow/chunk_{chunk}.npz", name=wildcards.name, chunk=chunk_ids(wildcards))


def gatys_settings(wildcards):
    return GatysSettings.from_config(cfg(wildcards)["gatys"])


def flow_offsets(wildcards):
    """Offsets the flow stage covers: 1 always (the report's warping error), plus what Gatys looks back to."""
    return sorted({1, *gatys_settings(wildcards).previous_offsets})


def temporal_flow(wildcards):
    """The chunk's flow file, when frames depend on earlier frames."""
    if not gatys_settings(wildcards).uses_previous_frames:
        return []
    return f"results/{wildcards.name}/flow/chunk_{wildcards.chunk}.npz"


def previous_stylized(wildcards):
    """Stylised chunks holding the frames that the first frames of this chunk look back to."""
    settings = gatys_settings(wildcards)
    if not settings.uses_previous_frames:
        return []
    return [f"results/{wildcards.name}/stylized/chunk_{k:04d}" for k in chain_before(wildcards, max(settings.previous_offsets))]


def flow_threads(wildcards):
    """A flow job's threads share its chunk in runs of FLOW_RUN frames: no more threads than runs."""
    chunk = this_chunk(wildcards)
    return max(1, min(all_cores(), -(-(chunk["end"] - chunk["start"]) // FLOW_RUN)))


def stabilize_threads(wildcards):
    """A stabilise job's threads take the runs between the cuts inside its chunk side by side."""
    chunk = this_chunk(wildcards)
    cuts = [start for start, _ in shot_list(wildcards) if chunk["start"] < start < chunk["end"]]
    return max(1, min(all_cores(), 1 + len(cuts)))


def all_cores():
    """Threads for the jobs that use every core they are given; 1 when Snakemake was given none, as for --report."""
    try:
        return workflow.cores
    except WorkflowError:
        return 1


def uses_gpu(wildcards):
    return 0 if cfg(wildcards)["device"] == "cpu" else 1


WARM = {"server": None}


def start_warm_jobs():
    """Start the server the network jobs fork from, when this run has such a job and runs it here, in this Python.

    Not on a cluster (each job runs on its node, under its allocation) nor with --use-conda or containers (the
    jobs' Python is another one).
    """
    if not config.get("warm_start", True) or not workflow.local_exec:
        return
    if workflow.deployment_settings.deployment_method:
        return
    # A checkpoint (the shot list) adds the stylise jobs to the DAG only once it has run.
    if any(job.rule.name in warm.WARM_RULES or job.is_checkpoint for job in workflow.dag.needrun_jobs()):
        WARM["server"] = warm.start_server(os.getpid(), log=lambda line: print(line, file=sys.stderr))


onstart:
    start_warm_jobs()


onsuccess:
    warm.stop_server(WARM["server"])


onerror:
    warm.stop_server(WARM["server"])
