from stylepipe.jobs.common import job_log
from stylepipe.jobs.preview import preview_job

with job_log(snakemake.log[0]):
    preview_job(
        snakemake.wildcards.name,
        snakemake.params.config,
        snakemake.input.frames,
        {key: str(value) for key, value in snakemake.input.items() if key != "frames"},
        snakemake.output.preview,
        snakemake.threads,
    )
