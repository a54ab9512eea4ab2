from stylepipe.jobs.warm import run_job

feedforward = dict(snakemake.params.feedforward)
common = dict(batch_size=snakemake.params.batch_size, precision=snakemake.params.precision,
              device=snakemake.params.device, threads=snakemake.threads,
              preserve_colors=feedforward["preserve_colors"])
where = (str(snakemake.input.frames), int(snakemake.wildcards.chunk), dict(snakemake.params.span), snakemake.params.chunk_frames)
if snakemake.params.arbitrary:
    run_job(
        snakemake.log[0], "stylepipe.jobs.feedforward", "stylize_arbitrary_chunk_job",
        *where,
        str(snakemake.input.style),
        str(snakemake.input.index),
        str(snakemake.input.weights),
        str(snakemake.output.frames),
        strength=feedforward["strength"],
        style_size=feedforward["style_size"],
        window=snakemake.params.window,
        **common,
    )
else:
    run_job(
        snakemake.log[0], "stylepipe.jobs.feedforward", "stylize_feedforward_chunk_job",
        *where, str(snakemake.input.model), str(snakemake.output.frames), **common,
    )
