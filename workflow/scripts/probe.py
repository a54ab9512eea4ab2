from stylepipe.jobs import job_log, probe_job

with job_log(snakemake.log[0]):
    probe_job(snakemake.input.video, snakemake.output.meta)
