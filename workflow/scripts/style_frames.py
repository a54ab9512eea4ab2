from stylepipe.jobs.common import job_log
from stylepipe.jobs.media import style_frames_job

with job_log(snakemake.log[0]):
    style_frames_job(
        snakemake.params.style,
        snakemake.input.frames,
        snakemake.input.meta,
        snakemake.output.frames,
        snakemake.output.index,
        width=snakemake.params.width,
        match=snakemake.params.match,
        short_side=snakemake.params.short_side,
    )
