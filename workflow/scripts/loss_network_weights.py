from stylepipe.jobs.common import job_log
from stylepipe.jobs.gatys import lossnet_job

with job_log(snakemake.log[0]):
    lossnet_job(snakemake.wildcards.spec, snakemake.output.weights)
