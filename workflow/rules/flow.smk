rule flow:
    """Optical flow both ways and Ruder's reliability mask, from each frame of a chunk to the frames before it."""
    input:
        frames="results/{name}/frames/content",
    output:
        flows="results/{name}/flow/chunk_{chunk}.npz",
    params:
        method=lambda wc: cfg(wc)["flow"]["method"],
        preset=lambda wc: cfg(wc)["flow"]["preset"],
        offsets=flow_offsets,
        chunk_frames=lambda wc: cfg(wc)["chunk_frames"],
    log:
        "results/{name}/logs/flow_{chunk}.log",
    threads: 1
    conda:
        CONDA_ENV
    script:
        "../scripts/flow.py"
