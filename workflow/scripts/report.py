from stylepipe.jobs.common import job_log
from stylepipe.jobs.temporal import report_job

with job_log(snakemake.log[0]):
    fidelity = None
    if "weights" in snakemake.input.keys():
        fidelity = dict(
            style_dir=snakemake.input.style,
            index_path=snakemake.input.index,
            weights_path=snakemake.input.weights,
            window=snakemake.params.window,
            device=snakemake.params.device,
        )
    report_job(
        snakemake.input.frames,
        snakemake.params.chunk_frames,
        snakemake.input.stylized,
        snakemake.input.shots,
        snakemake.input.flows,
        snakemake.params.layout,
        snakemake.output.metrics,
        unstabilized_dirs=list(snakemake.input.unstabilized),
        fidelity=fidelity,
        threads=snakemake.threads,
    )
