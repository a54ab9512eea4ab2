rule loss_network_weights:
    """Resolve a named weights source once (see DESIGN.md) and cache it for every stylise job."""
    output:
        weights="resources/lossnet/{spec}.safetensors",
    log:
        "resources/lossnet/{spec}.log",
    wildcard_constraints:
        spec="|".join(NAMED_SOURCES),
    conda:
        CONDA_ENV
    script:
        "../scripts/loss_network_weights.py"
