from stylepipe.jobs.common import job_log
from stylepipe.jobs.gatys import stylize_gatys_chunk_job

with job_log(snakemake.log[0]):
    stylize_gatys_chunk_job(
        snakemake.input.frames,
        int(snakemake.wildcards.chunk),
        dict(snakemake.params.span),
        snakemake.params.chunk_frames,
        snakemake.input.style,
        snakemake.input.index,
        snakemake.input.weights,
        snakemake.output.frames,
        settings=dict(snakemake.params.gatys),
        window=snakemake.params.window,
        device=snakemake.params.device,
        threads=snakemake.threads,
        flow_path=snakemake.input.flow or None,
        previous_dirs=list(snakemake.input.previous),
    )
