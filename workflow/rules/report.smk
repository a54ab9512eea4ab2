rule report:
    """metrics.json: warping error of the output and of the input, losses, timings and the weights used."""
    input:
        unpack(fidelity_inputs),
        frames="results/{name}/frames/content",
        stylized=stylized_chunks,
        flows=flow_chunks,
        unstabilised=unstabilised_chunks,
    output:
        metrics="results/{name}/metrics.json",
    params:
        window=lambda wc: cfg(wc)["style_video"]["window"],
        device=lambda wc: cfg(wc)["device"],
    log:
        "results/{name}/logs/report.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/report.py"
