"""Rule attack_cam: the map stage (FGSM, CAM, predictions) → maps.h5."""

from roiroa.attacks import AttackSettings
from roiroa.maps import run_map_stage
from roiroa.models import load_model
from roiroa.runtime import start_torch_job

params = snakemake.params
record = params.record
device = start_torch_job(snakemake.log[0], snakemake.threads, params.device, record["seed"], outputs=snakemake.output)
run_map_stage(
    load_model(snakemake.input.model, device),
    snakemake.input.data,
    tuple(params.classes),
    snakemake.output.maps,
    eps=record["eps"],
    attack=record["attack"],
    settings=AttackSettings.from_record(record["attack_settings"]),
    cam_method=record["cam"],
    layer=record["cam_layer"],
    target=record["cam_target"],
    n_samples=record["n_samples"],
    space=record["space"],
    seed=record["seed"],
    batch_size=params.batch_size,
    device=device,
    params=record,
)
