from stylepipe.jobs import job_log, style_frames_job

with job_log(snakemake.log[0]):
    style_frames_job(
        snakemake.params.style,
        snakemake.input.frames,
        snakemake.input.meta,
        snakemake.output.frames,
        snakemake.output.index,
        width=snakemake.params.width,
        match=snakemake.params.match,
    )
