import json
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

# Only torch-free modules here: every dry run, no-op rerun and cluster job parses this file.
from stylepipe import config as stylepipe_config
from stylepipe import disk as stylepipe_disk
from stylepipe import plan as stylepipe_plan
from stylepipe.errors import StylepipeError
from stylepipe.fingerprint import stamps as input_stamps
from stylepipe.flow import FLOW_RUN
from stylepipe.jobs import warm
from stylepipe.arbitrary_files import ARBITRARY_WEIGHTS_FILE
from stylepipe.plan import DEMO_FILES, GENERATED
from stylepipe.preflight import preflight, uses_arbitrary_network
from stylepipe.style import parse_style_sources

min_version("9.0")


report: "../report/workflow.rst"

CONDA_ENV = "../../envs/stylepipe.yaml"


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

# Validate the config, every variant and a batch sheet's rows (and fill in defaults) before any job runs.
try:
    VARIANTS, BATCH_ORIGIN, DEFAULT_NAMES = stylepipe_plan.outputs_to_render(
        config, Path(workflow.current_basedir).parent / "schemas", GENERATED
    )
except StylepipeError as err:
    fail(err)
# Each output's report page is built with it, so that `snakemake --report` has something to show.
DEFAULT_TARGETS = [path for name in DEFAULT_NAMES for path in (f"results/{name}.mp4", f"results/{name}/report/overview.html")]
CHECKED = set()

if workflow.is_main_process:
    # Free disk, and the names and sizes of every cached folder: a deleted or truncated frame would otherwise look
    # finished to Snakemake. Jobs compare contents too before they read a folder.
    try:
        for line in stylepipe_plan.before_run(Path("results"), VARIANTS, sys.argv[1:]):
            print(f"stylepipe: {line}", file=sys.stderr)
    except StylepipeError as err:
        fail(err)


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
            preflight(VARIANTS[name], generated=GENERATED)
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
    return input_stamps([content_video(wildcards)], GENERATED)


def style_stamps(wildcards):
    return input_stamps(style_files(wildcards), GENERATED)


# Every chunk job's params and inputs ask for the layout while the DAG is built: read each shots.json once.
# (name, its mtime) -> (shots, chunk layout)
SHOTS = {}


def shots_and_layout(wildcards):
    shots_path = Path(checkpoints.shots.get(name=wildcards.name).output.shots)
    key = (wildcards.name, shots_path.stat().st_mtime_ns)
    if key not in SHOTS:
        shots = json.loads(shots_path.read_text())["shots"]
        SHOTS[key] = (shots, stylepipe_plan.chunk_layout(cfg(wildcards), shots))
    return SHOTS[key]


def shot_list(wildcards):
    """The variant's shots, [[start, end], ...], once its shots.json exists."""
    return shots_and_layout(wildcards)[0]


def chunk_layout(wildcards):
    """The variant's chunks (stylepipe.plan.chunk_layout), known once its shots are."""
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
    return stylepipe_plan.chain_before(chunk_layout(wildcards), int(wildcards.chunk), frames_back)


def stage_chunks(wildcards, stage):
    return expand("results/{name}/{stage}/chunk_{chunk}", name=wildcards.name, stage=stage, chunk=chunk_ids(wildcards))


def stylized_chunks(wildcards):
    """The chunks that go into the video: stabilised ones when temporal.method is blend."""
    return stage_chunks(wildcards, stylepipe_plan.video_stage(cfg(wildcards)))


def unstabilized_chunks(wildcards):
    """For the report's before/after figure; nothing when there is no stabilisation."""
    variant = cfg(wildcards)
    return stage_chunks(wildcards, stylepipe_plan.per_frame_stage(variant)) if stylepipe_plan.video_stage(variant) == "stable" else []


def raw_chunk(wildcards):
    return f"results/{wildcards.name}/{stylepipe_plan.per_frame_stage(cfg(wildcards))}/chunk_{wildcards.chunk}"


def previous_stable(wildcards):
    return [f"results/{wildcards.name}/stable/chunk_{k:04d}" for k in chain_before(wildcards, 1)]


MODELS_TO_TRAIN = stylepipe_plan.models_to_train(VARIANTS)
NETWORK_FRAMES_TEMPORARY = stylepipe_plan.network_frames_are_temporary(config.get("keep_intermediates", False), VARIANTS)


def network_frames(path):
    """The feed-forward network's chunk folder, removed once the blend and the report have read it (plan)."""
    return temp(path) if NETWORK_FRAMES_TEMPORARY else path


def network_inputs(wildcards):
    """What the stylise, preview and report jobs read to paint or measure with the variant's method."""
    return stylepipe_plan.network_inputs(cfg(wildcards), wildcards.name)


def fidelity_inputs(wildcards):
    """Gatys mode's report measures style and content distances with the loss network it already has."""
    return network_inputs(wildcards) if cfg(wildcards)["mode"] == "gatys" else {}


def training_variant(wildcards):
    return MODELS_TO_TRAIN[wildcards.model_id]


def temporal_flow(wildcards):
    """The chunk's flow file, when frames depend on earlier frames."""
    return f"results/{wildcards.name}/flow/chunk_{wildcards.chunk}.npz" if stylepipe_plan.frames_looked_back(cfg(wildcards)) else []


def previous_stylized(wildcards):
    """Stylised chunks holding the frames that the first frames of this chunk look back to."""
    back = stylepipe_plan.frames_looked_back(cfg(wildcards))
    return [f"results/{wildcards.name}/stylized/chunk_{k:04d}" for k in chain_before(wildcards, back)] if back else []


def flow_threads(wildcards):
    return stylepipe_plan.flow_threads(this_chunk(wildcards), all_cores(), FLOW_RUN)


def stabilize_threads(wildcards):
    return stylepipe_plan.stabilize_threads(this_chunk(wildcards), shot_list(wildcards), all_cores())


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
    jobs = list(workflow.dag.needrun_jobs()) if workflow.local_exec else []
    if stylepipe_plan.wants_warm_server(config.get("warm_start", True), workflow.local_exec, workflow.deployment_settings.deployment_method,
                                        [job.rule.name for job in jobs], any(job.is_checkpoint for job in jobs), warm.WARM_RULES):
        WARM["server"] = warm.start_server(os.getpid(), log=lambda line: print(line, file=sys.stderr))


def check_disk():
    """Stop before the first job when the outputs this run works on have more left to write than the disk has free."""
    names = {job.wildcards_dict.get("name") for job in workflow.dag.needrun_jobs()} - {None}
    try:
        lines = stylepipe_disk.check_room(Path("results"), {name: VARIANTS[name] for name in sorted(names) if name in VARIANTS})
    except StylepipeError as err:
        fail(err)
    for line in lines:
        print(f"stylepipe: {line}", file=sys.stderr)


onstart:
    check_disk()
    start_warm_jobs()


onsuccess:
    warm.stop_server(WARM["server"])


onerror:
    warm.stop_server(WARM["server"])
