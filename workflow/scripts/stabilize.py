from stylepipe.jobs.common import job_log
from stylepipe.jobs.temporal import stabilize_chunk_job

with job_log(snakemake.log[0]):
    stabilize_chunk_job(
        snakemake.input.raw,
        dict(snakemake.params.span),
        snakemake.input.flow,
        list(snakemake.input.previous),
        snakemake.output.frames,
        strength=snakemake.params.strength,
        warp=snakemake.params.warp,
        threads=snakemake.threads,
    )
