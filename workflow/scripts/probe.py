from stylepipe.jobs.common import job_log
from stylepipe.jobs.media import probe_job

with job_log(snakemake.log[0]):
    probe_job(snakemake.input.video, snakemake.output.meta)
