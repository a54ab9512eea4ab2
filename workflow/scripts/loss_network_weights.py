from stylepipe.jobs import job_log, lossnet_job

with job_log(snakemake.log[0]):
    lossnet_job(snakemake.wildcards.spec, snakemake.output.weights)
