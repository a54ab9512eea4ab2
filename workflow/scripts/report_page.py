from stylepipe.jobs.common import job_log
from stylepipe.jobs.report_page import report_page_job

with job_log(snakemake.log[0]):
    report_page_job(
        snakemake.wildcards.name,
        snakemake.input.video,
        snakemake.input.meta,
        snakemake.input.frames,
        snakemake.input.style,
        snakemake.input.index,
        list(snakemake.input.chunks),
        snakemake.params.layout,
        snakemake.input.metrics,
        snakemake.params.config,
        snakemake.output.page,
        snakemake.output.sheet,
        snakemake.output.plots,
    )
