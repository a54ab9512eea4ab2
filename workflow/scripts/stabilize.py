from stylepipe.jobs import job_log, stabilize_chunk_job

with job_log(snakemake.log[0]):
    stabilize_chunk_job(
        snakemake.input.raw,
        int(snakemake.wildcards.chunk),
        snakemake.input.flow,
        list(snakemake.input.previous),
        snakemake.output.frames,
        strength=snakemake.params.strength,
    )
