from stylepipe.jobs import job_log, stylize_feedforward_chunk_job

with job_log(snakemake.log[0]):
    stylize_feedforward_chunk_job(
        snakemake.input.frames,
        int(snakemake.wildcards.chunk),
        snakemake.input.model,
        snakemake.output.frames,
        batch_size=snakemake.params.batch_size,
        precision=snakemake.params.precision,
        device=snakemake.params.device,
        threads=snakemake.threads,
    )
