from stylepipe.jobs.common import job_log
from stylepipe.jobs.temporal import report_flows_job

with job_log(snakemake.log[0]):
    report_flows_job(
        snakemake.input.frames,
        snakemake.params.chunk_frames,
        snakemake.input.shots,
        snakemake.params.layout,
        snakemake.output.flows,
        threads=snakemake.threads,
    )
