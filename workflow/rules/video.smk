rule assemble:
    """Join the stylised chunks into H.264 or H.265 at the source fps, with the source's audio.

    The metrics are an input so that asking for the video also measures it.
    """
    input:
        chunks=stylized_chunks,
        shots="results/{name}/shots.json",  # the chunk layout (params.layout) comes from it
        metrics="results/{name}/metrics.json",
        meta="results/{name}/meta.json",
        video=content_video,
        frames="results/{name}/frames/content",  # the delivered video's warping error is measured against them
        report_flows="results/{name}/report_flows.npz",  # along the report's own flow, on its frame pairs
    output:
        video="results/{name}.mp4",
        delivered="results/{name}/delivered.json",
    params:
        layout=chunk_layout,
        crf=lambda wc: cfg(wc)["encode"]["crf"],
        codec=lambda wc: cfg(wc)["encode"]["codec"],
        pix_fmt=lambda wc: cfg(wc)["encode"]["pix_fmt"],
        audio=lambda wc: cfg(wc)["encode"]["audio"],
        chunk_frames=lambda wc: cfg(wc)["chunk_frames"],
    log:
        "results/{name}/logs/assemble.log",
    benchmark:
        "results/{name}/benchmarks/assemble.tsv"
    threads: all_cores()
    conda:
        CONDA_ENV
    script:
        "../scripts/assemble.py"
