# stylepipe: `snakemake --cores 8 results/out.mp4` renders the top-level config; results/<variant>.mp4 renders
# a named variant from `variants:`; with `batch:` set, `snakemake --cores 8` renders every row of the sheet.
# See README.md.

include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/frames.smk"
include: "workflow/rules/lossnet.smk"
include: "workflow/rules/flow.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/stylize.smk"
include: "workflow/rules/video.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        DEFAULT_TARGETS,
