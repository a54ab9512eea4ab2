import sys
from pathlib import Path

from snakemake.utils import min_version

from stylepipe import config as stylepipe_config
from stylepipe.errors import StylepipeError
from stylepipe.frames import chunk_count
from stylepipe.gatys import GatysSettings
from stylepipe.jobs import preflight
from stylepipe.lossnet import NAMED_SOURCES
from stylepipe.style import parse_style_sources
from stylepipe.video import VideoMeta

min_version("9.0")

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


# Validate every variant (and fill in defaults) before any job runs.
try:
    SCHEMA = stylepipe_config.load_schema(
        Path(workflow.current_basedir).parent / "schemas" / "config.schema.yaml"
    )
    VARIANTS = stylepipe_config.resolve_variants(config, SCHEMA)
    for variant in VARIANTS.values():
        preflight(variant, generated=tuple(DEMO_FILES.values()))
except StylepipeError as err:
    fail(err)


def cfg(wildcards):
    """The full config of the output named by wildcards.name (`out` or a variant)."""
    if wildcards.name not in VARIANTS:
        fail(stylepipe_config.unknown_variant_message(wildcards.name, list(VARIANTS)))
    return VARIANTS[wildcards.name]


def content_video(wildcards):
    return cfg(wildcards)["content"]


def style_files(wildcards):
    return [source.path for source in parse_style_sources(cfg(wildcards)["style"])]


def loss_network_weights(wildcards):
    spec = cfg(wildcards)["loss_network"]["weights"]
    return f"resources/lossnet/{spec}.safetensors" if spec in NAMED_SOURCES else spec


def chunk_ids(wildcards):
    """Chunk numbers of a variant, known once its content video has been probed."""
    meta_path = checkpoints.probe.get(name=wildcards.name).output.meta
    frames = VideoMeta.from_json_file(meta_path).frame_count
    return [f"{k:04d}" for k in range(chunk_count(frames, cfg(wildcards)["chunk_frames"]))]


def stylized_chunks(wildcards):
    return expand("results/{name}/stylized/chunk_{chunk}", name=wildcards.name, chunk=chunk_ids(wildcards))


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
    chunk, size = int(wildcards.chunk), cfg(wildcards)["chunk_frames"]
    first = max(0, (chunk * size - max(settings.previous_offsets)) // size)
    return [f"results/{wildcards.name}/stylized/chunk_{k:04d}" for k in range(first, chunk)]


def uses_gpu(wildcards):
    return 0 if cfg(wildcards)["device"] == "cpu" else 1
