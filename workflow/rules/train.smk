rule train:
    """Train the feed-forward network for a style image (fine-tune the arbitrary network's, or train one from scratch);
    resumes from its last checkpoint if interrupted."""
    input:
        style=lambda wc: parse_style_sources(training_variant(wc)["style"])[0].path,
        videos=lambda wc: stylepipe_plan.training_videos(training_variant(wc), DEMO_FILES["content"]),
        weights=lambda wc: stylepipe_plan.loss_network_file(training_variant(wc)),
        start=lambda wc: stylepipe_plan.training_start(training_variant(wc)),
    output:
        model="resources/models/{model_id}.safetensors",
    params:
        settings=lambda wc: training_variant(wc)["feedforward"]["train"],
        arch=lambda wc: training_variant(wc)["feedforward"]["arch"],
        style_size=lambda wc: training_variant(wc)["feedforward"]["style_size"],
        device=lambda wc: training_variant(wc)["device"],
    log:
        "resources/models/{model_id}.log",
    benchmark:
        "resources/models/{model_id}.benchmark.tsv"
    threads: all_cores()
    resources:
        gpu=lambda wc: 0 if training_variant(wc)["device"] == "cpu" else 1,
        mem_mb=6000,
    conda:
        CONDA_ENV
    script:
        "../scripts/train.py"
