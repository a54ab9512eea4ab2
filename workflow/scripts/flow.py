from stylepipe.jobs.common import job_log
from stylepipe.jobs.temporal import flow_job

with job_log(snakemake.log[0]):
    flow_job(
        snakemake.input.frames,
        dict(snakemake.params.span),
        snakemake.params.chunk_frames,
        snakemake.input.shots,
        snakemake.output.flows,
        method=snakemake.params.method,
        preset=snakemake.params.preset,
        offsets=snakemake.params.offsets,
        flow_width=snakemake.params.width,
        threads=snakemake.threads,
    )
