from stylepipe.jobs.common import job_log
from stylepipe.jobs.feedforward import stylize_arbitrary_chunk_job, stylize_feedforward_chunk_job

with job_log(snakemake.log[0]):
    feedforward = snakemake.params.feedforward
    common = dict(batch_size=snakemake.params.batch_size, precision=snakemake.params.precision,
                  device=snakemake.params.device, threads=snakemake.threads)
    if snakemake.params.arbitrary:
        stylize_arbitrary_chunk_job(
            snakemake.input.frames,
            int(snakemake.wildcards.chunk),
            dict(snakemake.params.span),
            snakemake.params.chunk_frames,
            snakemake.input.style,
            snakemake.input.index,
            snakemake.input.weights,
            snakemake.output.frames,
            strength=feedforward["strength"],
            style_size=feedforward["style_size"],
            window=snakemake.params.window,
            preserve_colors=feedforward["preserve_colors"],
            **common,
        )
    else:
        stylize_feedforward_chunk_job(
            snakemake.input.frames, int(snakemake.wildcards.chunk), dict(snakemake.params.span), snakemake.params.chunk_frames,
            snakemake.input.model, snakemake.output.frames,
            preserve_colors=feedforward["preserve_colors"], **common,
        )
