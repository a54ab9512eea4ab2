from stylepipe.jobs.common import job_log
from stylepipe.jobs.media import content_frames_job

with job_log(snakemake.log[0]):
    content_frames_job(
        snakemake.input.video,
        snakemake.input.meta,
        snakemake.output.frames,
        width=snakemake.params.width,
        chunk_frames=snakemake.params.chunk_frames,
    )
