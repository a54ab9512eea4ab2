from stylepipe.jobs.common import job_log
from stylepipe.jobs.media import assemble_job

with job_log(snakemake.log[0]):
    assemble_job(
        snakemake.input.chunks,
        snakemake.params.layout,
        snakemake.input.meta,
        snakemake.input.video,
        snakemake.output.video,
        crf=snakemake.params.crf,
        codec=snakemake.params.codec,
        pix_fmt=snakemake.params.pix_fmt,
        measure=dict(
            frames_dir=snakemake.input.frames,
            chunk_frames=snakemake.params.chunk_frames,
            flows_path=snakemake.input.report_flows,
            out_path=snakemake.output.delivered,
            threads=snakemake.threads,
        ),
        audio=snakemake.params.audio,
    )
