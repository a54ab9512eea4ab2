from stylepipe.jobs.warm import run_job

run_job(
    snakemake.log[0], "stylepipe.jobs.preview", "preview_job",
    snakemake.wildcards.name,
    dict(snakemake.params.config),
    str(snakemake.input.frames),
    {key: str(value) for key, value in snakemake.input.items() if key != "frames"},
    str(snakemake.output.preview),
    snakemake.threads,
)
