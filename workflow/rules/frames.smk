rule probe:
    """Frame count, fps, size and audio of the content video."""
    input:
        video=content_video,
        stamp=content_stamp,
    output:
        meta="results/{name}/meta.json",
    log:
        "results/{name}/logs/probe.log",
    benchmark:
        "results/{name}/benchmarks/probe.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/probe.py"


rule content_frames:
    input:
        video=content_video,
        stamp=content_stamp,
        meta="results/{name}/meta.json",
    output:
        frames=directory("results/{name}/frames/content"),
    params:
        width=lambda wc: cfg(wc)["width"],
        chunk_frames=lambda wc: cfg(wc)["chunk_frames"],
    log:
        "results/{name}/logs/content_frames.log",
    benchmark:
        "results/{name}/benchmarks/content_frames.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/content_frames.py"


rule style_frames:
    input:
        styles=style_files,
        stamps=style_stamps,
        frames="results/{name}/frames/content",
        meta="results/{name}/meta.json",
    output:
        frames=directory("results/{name}/frames/style"),
        index="results/{name}/style_index.json",
    params:
        style=lambda wc: cfg(wc)["style"],
        width=lambda wc: cfg(wc)["width"],
        match=lambda wc: cfg(wc)["style_video"]["match"],
        short_side=lambda wc: stylepipe_plan.style_short_side(cfg(wc)),
    log:
        "results/{name}/logs/style_frames.log",
    benchmark:
        "results/{name}/benchmarks/style_frames.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/style_frames.py"


checkpoint shots:
    """Where the cuts are: the chunk list follows the shots, so that no chunk spans a cut and each shot is a chain."""
    input:
        frames="results/{name}/frames/content",
    output:
        shots="results/{name}/shots.json",
    params:
        shots=lambda wc: cfg(wc)["shots"],
    log:
        "results/{name}/logs/shots.log",
    benchmark:
        "results/{name}/benchmarks/shots.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/shots.py"
