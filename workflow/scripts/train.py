from stylepipe.jobs.common import job_log
from stylepipe.jobs.feedforward import train_job

with job_log(snakemake.log[0]):
    train_job(
        snakemake.input.style,
        list(snakemake.input.videos),
        snakemake.input.weights,
        snakemake.output.model,
        settings=dict(snakemake.params.settings),
        arch=snakemake.params.arch,
        model_id=snakemake.wildcards.model_id,
        device=snakemake.params.device,
        threads=snakemake.threads,
    )
