from stylepipe.jobs.common import job_log
from stylepipe.jobs.temporal import report_job

with job_log(snakemake.log[0]):
    report_job(
        snakemake.input.frames,
        snakemake.input.stylized,
        snakemake.input.flows,
        snakemake.output.metrics,
        unstabilised_dirs=list(snakemake.input.unstabilised),
    )
