"""Rule figures_regions: both directions' RoI, RoA, class representatives and four regions."""

from roiroa import figures as fg
from roiroa.runtime import start_job

start_job(snakemake.log[0], snakemake.output)
w, params, out, inputs = snakemake.wildcards, snakemake.params, snakemake.output, snakemake.input
record, classes = params.record, [w.first, w.second]
for i, (source, target) in enumerate(params.directions):  # each output lists both directions, in this order
    example = fg.read_example(inputs.data, inputs.maps, inputs.regions, source, target)
    reps, rep_ssim, n_images = fg.read_representatives(inputs.regions, source, target)
    image = f"test image #{example.index} (the first of class {source})"
    direction = f"{w.dataset} {source}→{target}"

    fg.save(fg.roi_individual(
        example.image, example.cam, example.roi, delta1=record["delta1"], cam_method=record["cam"],
        title=f"{direction}: RoI of {image}",
    ), out.roi_individual[i])
    fg.save(fg.roa_individual(
        example.image, example.x_adv, example.magnitude, example.roa, delta2=record["delta2"], eps=record["eps"],
        title=f"{direction}: RoA of {image} under {record['attack'].upper()}",
        clean_label=fg.prediction(example.prob_clean, classes), adv_label=fg.prediction(example.prob_adv, classes),
    ), out.roa_individual[i])
    fg.save(fg.representatives(
        reps["roi"], reps["roa"], mode=record["representative"],
        title=f"{direction}: class representatives over {n_images} images, SSIM(RoI, RoA) = {rep_ssim:.4f}",
    ), out.representatives[i])
    fg.save(fg.regions_individual(
        example.roi, example.roa, title=f"{direction}: four regions of {image}",
    ), out.regions_individual[i])
    fg.save(fg.regions_representatives(
        reps, title=f"{direction}: four regions over the class's {n_images} images "
        f"(δ1 = {record['delta1']:g}, δ2 = {record['delta2']:g})",
    ), out.regions_representatives[i])
