from stylepipe.jobs.common import job_log
from stylepipe.jobs.feedforward import arbitrary_weights_job

with job_log(snakemake.log[0]):
    arbitrary_weights_job(snakemake.output.weights)
