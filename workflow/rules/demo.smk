rule demo_inputs:
    """Generate the demo content video (a photograph with exact motion, and a tone), style video and style image."""
    output:
        content=DEMO_FILES["content"],
        style_video=DEMO_FILES["style_video"],
        style_image=DEMO_FILES["style_image"],
    params:
        content_size=(320, 180),
        style_size=(320, 200),
        style_image_size=(512, 320),
        frames=30,
        fps=15,
    log:
        "resources/demo/demo.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/demo_inputs.py"
