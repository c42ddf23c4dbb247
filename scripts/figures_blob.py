"""Rule figures_blob: both directions' blob at every θ beside the class-level ŪV it comes from."""

from roiroa import figures as fg
from roiroa.blob import blob_mask
from roiroa.runtime import start_job

start_job(snakemake.log[0], snakemake.output)
w, inputs, params = snakemake.wildcards, snakemake.input, snakemake.params
pngs = iter(snakemake.output.blobs)  # at every θ: each direction, in the order of params.directions
read = {
    (source, target): (fg.read_example(inputs.data, inputs.maps, inputs.regions, source, target),
                       fg.read_representatives(inputs.regions, source, target))
    for source, target in params.directions
}  # fmt: skip
for theta in params.thetas:
    for (source, target), (example, (reps, _, n_images)) in read.items():
        mask = blob_mask(reps, theta, params.mode)  # as rule blob computes it
        fg.save(fg.blob(
            reps["ubar_v"], mask, example.image, theta=theta, mode=params.mode,
            title=f"{w.dataset} {source}→{target}: blob of class {source} "
            f"(from {n_images} images; image #{example.index} is the first of the class)",
            image_label=f"test image #{example.index}",
        ), next(pngs))
