rule stylize_gatys:
    """Per-frame Gatys optimisation of one chunk of frames."""
    input:
        frames="results/{name}/frames/content",
        style="results/{name}/frames/style",
        index="results/{name}/style_index.json",
        weights=loss_network_weights,
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
