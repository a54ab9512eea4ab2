rule stylize_gatys:
    """Gatys optimisation of one chunk; with temporal consistency on, it needs the chunks before it."""
    input:
        frames="results/{name}/frames/content",
        style="results/{name}/frames/style",
        index="results/{name}/style_index.json",
        weights=loss_network_weights,
        flow=temporal_flow,
        previous=previous_stylized,
    output:
        frames=directory("results/{name}/stylized/chunk_{chunk}"),
    params:
        gatys=lambda wc: cfg(wc)["gatys"],
        gram_window=lambda wc: cfg(wc)["style_video"]["gram_window"],
        device=lambda wc: cfg(wc)["device"],
    log:
        "results/{name}/logs/stylize_{chunk}.log",
    benchmark:
        "results/{name}/benchmarks/stylize_{chunk}.tsv"
    threads: workflow.cores
    resources:
        gpu=uses_gpu,
        mem_mb=4000,
    conda:
        CONDA_ENV
    script:
        "../scripts/stylize_gatys.py"
