"""Rule figures_blob: one direction's blob at every θ beside the class-level ŪV it comes from."""

from roiroa import figures as fg
from roiroa.blob import blob_mask
from roiroa.runtime import start_job

start_job(snakemake.log[0], snakemake.output)
w = snakemake.wildcards
example = fg.read_example(snakemake.input.data, snakemake.input.maps, snakemake.input.regions, w.source, w.target)
reps, _, n_images = fg.read_representatives(snakemake.input.regions, w.source, w.target)
for theta, png in zip(snakemake.params.thetas, snakemake.output.blobs, strict=True):
    mask = blob_mask(reps, theta, snakemake.params.mode)  # as rule blob computes it
    fg.save(fg.blob(
        reps["ubar_v"], mask, example.image, theta=theta, mode=snakemake.params.mode,
        title=f"{w.dataset} {w.source}→{w.target}: blob of class {w.source} "
        f"(from {n_images} images; image #{example.index} is the first of the class)",
        image_label=f"test image #{example.index}",
    ), png)
