from stylepipe.jobs.common import job_log
from stylepipe.jobs.temporal import stabilize_chunk_job

with job_log(snakemake.log[0]):
    stabilize_chunk_job(
        snakemake.input.raw,
        dict(snakemake.params.span),
        snakemake.input.flow,
        list(snakemake.input.previous),
        snakemake.output.frames,
        strength=snakemake.params.strength,
        warp=snakemake.params.warp,
        frames_dir=snakemake.input.frames,
        chunk_frames=snakemake.params.chunk_frames,
        change_scale=snakemake.params.change_scale,
        threads=snakemake.threads,
    )
