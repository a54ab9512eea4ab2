from fractions import Fraction

from stylepipe.demo import write_photo_video, write_style_image, write_style_video
from stylepipe.jobs.common import job_log

with job_log(snakemake.log[0]):
    fps = Fraction(snakemake.params.fps)
    frames = snakemake.params.frames
    write_photo_video(snakemake.output.content, *snakemake.params.content_size, frames, fps)
    write_style_video(snakemake.output.style_video, *snakemake.params.style_size, frames, fps)
    write_style_image(snakemake.output.style_image, *snakemake.params.style_image_size)
