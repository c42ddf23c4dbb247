"""Rule figures_attacks: one image's RoI beside the RoA of every attack and RoA source."""

import numpy as np

from roiroa import figures as fg
from roiroa.h5io import open_h5, read_dataset
from roiroa.regions import ROA_SOURCES
from roiroa.runtime import start_job

start_job(snakemake.log[0], snakemake.output)
w = snakemake.wildcards
maps_of = {path.split("/attack~")[1].split("/")[0]: path for path in snakemake.input.maps}
roas, image, roi = {}, None, None
for regions_path in snakemake.input.regions:
    attack = regions_path.split("/attack~")[1].split("/")[0]
    source = regions_path.split("/roa~")[1].split("/")[0]
    example = fg.read_example(snakemake.input.data, maps_of[attack], regions_path, w.source, w.target)
    with open_h5(maps_of[attack], "maps") as maps:
        row = int(np.flatnonzero(read_dataset(maps, "index") == example.index)[0])
        magnitude = read_dataset(maps, ROA_SOURCES[source], row)
    image, roi = example.image, example.roi
    roas[f"{attack.upper().replace('_', '-')}, {source}"] = (magnitude, example.roa)
fg.save(fg.roa_comparison(
    image, roi, roas,
    title=f"{w.dataset} {w.source}→{w.target}: RoA of each attack and RoA source, test image #{example.index}",
), snakemake.output.plot)
