from stylepipe.jobs.common import job_log
from stylepipe.jobs.shots import shots_job

with job_log(snakemake.log[0]):
    shots_job(
        snakemake.input.frames,
        snakemake.output.shots,
        detect=snakemake.params.shots["detect"],
        threshold=snakemake.params.shots["threshold"],
        min_frames=snakemake.params.shots["min_frames"],
    )
