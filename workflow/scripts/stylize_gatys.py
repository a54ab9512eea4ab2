from stylepipe.jobs.warm import run_job

run_job(
    snakemake.log[0], "stylepipe.jobs.gatys", "stylize_gatys_chunk_job",
    str(snakemake.input.frames),
    int(snakemake.wildcards.chunk),
    dict(snakemake.params.span),
    snakemake.params.chunk_frames,
    str(snakemake.input.style),
    str(snakemake.input.index),
    str(snakemake.input.weights),
    str(snakemake.output.frames),
    settings=dict(snakemake.params.gatys),
    window=snakemake.params.window,
    device=snakemake.params.device,
    threads=snakemake.threads,
    flow_path=str(snakemake.input.flow) if snakemake.input.flow else None,
    previous_dirs=[str(path) for path in snakemake.input.previous],
)
