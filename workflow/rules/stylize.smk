rule stylize_gatys:
    """Gatys optimisation of one chunk; with temporal consistency on, it needs the chunks before it."""
    input:
        unpack(network_inputs),  # the loss network and the style frames
        shots="results/{name}/shots.json",  # the chunk's frames (params.span) come from it
        frames="results/{name}/frames/content",
        flow=temporal_flow,
        previous=previous_stylized,
    output:
        frames=directory("results/{name}/stylized/chunk_{chunk}"),
    params:
        span=this_chunk,
        chunk_frames=lambda wc: cfg(wc)["chunk_frames"],
        gatys=lambda wc: cfg(wc)["gatys"],
        window=lambda wc: cfg(wc)["style_video"]["window"],
        device=lambda wc: cfg(wc)["device"],
    log:
        "results/{name}/logs/stylize_{chunk}.log",
    benchmark:
        "results/{name}/benchmarks/stylize_{chunk}.tsv"
    threads: all_cores()
    resources:
        gpu=uses_gpu,
        mem_mb=4000,
    conda:
        CONDA_ENV
    script:
        "../scripts/stylize_gatys.py"


rule stylize_feedforward:
    """One forward pass per frame, in batches: the arbitrary-style network with a style vector per frame, or a
    network trained for the style."""
    input:
        unpack(network_inputs),
        shots="results/{name}/shots.json",  # the chunk's frames (params.span) come from it
        frames="results/{name}/frames/content",
    output:
        frames=network_frames(directory("results/{name}/feedforward/chunk_{chunk}")),
    params:
        span=this_chunk,
        chunk_frames=lambda wc: cfg(wc)["chunk_frames"],
        arbitrary=lambda wc: uses_arbitrary_network(cfg(wc)),
        feedforward=lambda wc: cfg(wc)["feedforward"],
        window=lambda wc: cfg(wc)["style_video"]["window"],
        batch_size=lambda wc: cfg(wc)["feedforward"]["batch_size"],
        precision=lambda wc: cfg(wc)["feedforward"]["precision"],
        device=lambda wc: cfg(wc)["device"],
    log:
        "results/{name}/logs/feedforward_{chunk}.log",
    benchmark:
        "results/{name}/benchmarks/feedforward_{chunk}.tsv"
    threads: all_cores()
    resources:
        gpu=uses_gpu,
        mem_mb=3000,
    conda:
        CONDA_ENV
    script:
        "../scripts/stylize_feedforward.py"


rule stabilize:
    """Blend each stylised frame with the warped previous stabilised frame where the flow is reliable and the
    content did not change."""
    input:
        shots="results/{name}/shots.json",  # the chunk's frames (params.span) come from it
        raw=raw_chunk,
        flow="results/{name}/flow/chunk_{chunk}.npz",
        previous=previous_stable,
        frames="results/{name}/frames/content",  # where the content changed, the blend holds less
    output:
        frames=directory("results/{name}/stable/chunk_{chunk}"),
    params:
        span=this_chunk,
        strength=lambda wc: cfg(wc)["temporal"]["strength"],
        change_scale=lambda wc: cfg(wc)["temporal"]["change_scale"],
        warp=lambda wc: cfg(wc)["temporal"]["warp"],
        chunk_frames=lambda wc: cfg(wc)["chunk_frames"],
    log:
        "results/{name}/logs/stabilize_{chunk}.log",
    benchmark:
        "results/{name}/benchmarks/stabilize_{chunk}.tsv"
    threads: stabilize_threads
    conda:
        CONDA_ENV
    script:
        "../scripts/stabilize.py"


rule preview:
    """A few frames spread through the clip, stylised with the output's settings and set beside their content
    frames, before committing to the full render. Reads the cached frames; writes only preview.png."""
    input:
        unpack(network_inputs),
        frames="results/{name}/frames/content",
    output:
        preview="results/{name}/preview.png",
    params:
        config=cfg,
    log:
        "results/{name}/logs/preview.log",
    threads: all_cores()
    resources:
        gpu=uses_gpu,
        mem_mb=4000,
    conda:
        CONDA_ENV
    script:
        "../scripts/preview.py"
