"""Rule figures_blob: one direction's blob (θ) beside the class-level ŪV it comes from."""

from roiroa import figures as fg
from roiroa.runtime import start_job

start_job(snakemake.log[0], snakemake.output)
w, record = snakemake.wildcards, snakemake.params.record
example = fg.read_example(snakemake.input.data, snakemake.input.maps, snakemake.input.regions, w.source, w.target)
reps, _, n_images = fg.read_representatives(snakemake.input.regions, w.source, w.target)
mask = fg.read_blob(snakemake.input.blob, w.source, w.target)
fg.save(fg.blob(
    reps["ubar_v"], mask, example.image, theta=record["theta"], mode=record["blob_mode"],
    title=f"{w.dataset} {w.source}→{w.target}: blob of class {w.source} "
    f"(from {n_images} images; image #{example.index} is the first of the class)",
    image_label=f"test image #{example.index}",
), snakemake.output.blob)
