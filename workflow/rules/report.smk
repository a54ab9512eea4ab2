rule report_flows:
    """The report's own flow (no stage uses it) for the frame pairs that the report and the delivered video's measurement share."""
    input:
        shots="results/{name}/shots.json",  # the chunk layout (params.layout) comes from it
        frames="results/{name}/frames/content",
    output:
        flows="results/{name}/report_flows.npz",
    params:
        chunk_frames=lambda wc: cfg(wc)["chunk_frames"],
        layout=chunk_layout,
    log:
        "results/{name}/logs/report_flows.log",
    benchmark:
        "results/{name}/benchmarks/report_flows.tsv"
    threads: all_cores()
    conda:
        CONDA_ENV
    script:
        "../scripts/report_flows.py"


rule report:
    """metrics.json: warping error of the output and of the input (with a flow of its own), losses, timings and the weights used."""
    input:
        unpack(fidelity_inputs),
        shots="results/{name}/shots.json",  # the chunk layout (params.layout) comes from it
        frames="results/{name}/frames/content",
        flows="results/{name}/report_flows.npz",
        stylized=stylized_chunks,
        unstabilized=unstabilized_chunks,
    output:
        metrics="results/{name}/metrics.json",
    params:
        chunk_frames=lambda wc: cfg(wc)["chunk_frames"],
        layout=chunk_layout,
        window=lambda wc: cfg(wc)["style_video"]["window"],
        device=lambda wc: cfg(wc)["device"],
    log:
        "results/{name}/logs/report.log",
    benchmark:
        "results/{name}/benchmarks/report.tsv"
    threads: all_cores()
    conda:
        CONDA_ENV
    script:
        "../scripts/report.py"


rule report_page:
    """What `snakemake --report results/report.html` shows of an output: its page (the video, the contact sheet, the
    plots and the knobs in one), and the contact sheet and plots on their own."""
    input:
        video="results/{name}.mp4",
        shots="results/{name}/shots.json",  # the chunk layout (params.layout) comes from it
        meta="results/{name}/meta.json",
        frames="results/{name}/frames/content",
        style="results/{name}/frames/style",
        index="results/{name}/style_index.json",
        chunks=stylized_chunks,
        metrics="results/{name}/metrics.json",
    output:
        page=report(
            "results/{name}/report/overview.html",
            caption="../report/overview.rst",
            category="Outputs",
            subcategory="{name}",
            labels={"output": "{name}", "figure": "1 overview: video, contact sheet, plots, settings"},
        ),
        sheet=report(
            "results/{name}/report/contact_sheet.jpg",
            caption="../report/contact_sheet.rst",
            category="Outputs",
            subcategory="{name}",
            labels={"output": "{name}", "figure": "2 contact sheet"},
        ),
        plots=report(
            "results/{name}/report/per_frame.svg",
            caption="../report/per_frame.rst",
            category="Outputs",
            subcategory="{name}",
            labels={"output": "{name}", "figure": "3 per-frame plots"},
        ),
    params:
        config=cfg,
        layout=chunk_layout,
    log:
        "results/{name}/logs/report_page.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/report_page.py"
