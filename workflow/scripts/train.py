from stylepipe.jobs.warm import run_job

run_job(
    snakemake.log[0], "stylepipe.jobs.feedforward", "train_job",
    str(snakemake.input.style),
    [str(path) for path in snakemake.input.videos],
    str(snakemake.input.weights),
    str(snakemake.output.model),
    settings=dict(snakemake.params.settings),
    arch=snakemake.params.arch,
    model_id=snakemake.wildcards.model_id,
    device=snakemake.params.device,
    threads=snakemake.threads,
    arbitrary_path=str(snakemake.input.start[0]) if snakemake.input.start else None,
    style_size=snakemake.params.style_size,
)
