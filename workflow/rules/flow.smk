rule flow:
    """Optical flow both ways and Ruder's reliability mask, from each frame of a chunk to the frames before it."""
    input:
        shots="results/{name}/shots.json",  # the chunk's frames (params.span) and where the cuts are
        frames="results/{name}/frames/content",
    output:
        flows="results/{name}/flow/chunk_{chunk}.npz",
    params:
        method=lambda wc: cfg(wc)["flow"]["method"],
        preset=lambda wc: cfg(wc)["flow"]["preset"],
        width=lambda wc: cfg(wc)["flow"]["width"],
        offsets=lambda wc: stylepipe_plan.flow_offsets(cfg(wc)),
        span=this_chunk,
        chunk_frames=lambda wc: cfg(wc)["chunk_frames"],
    log:
        "results/{name}/logs/flow_{chunk}.log",
    benchmark:
        "results/{name}/benchmarks/flow_{chunk}.tsv"
    threads: flow_threads
    conda:
        CONDA_ENV
    script:
        "../scripts/flow.py"
