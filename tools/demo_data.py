"""The data pipeline of a training run, on the embedded EMT data set.

    uv run python tools/demo_data.py [CONFIG]     # default: configs/data_demo.yaml

Reads the ``data`` section of a config as ``nequip-train`` will (hydra instantiation of
the datamodule, nested ``_target_`` dicts left to it), sets up the splits, draws one
training batch and prints the dataset statistics that a model section refers to as
``${training_data_stats:NAME}``.
"""

import sys
from pathlib import Path

import hydra.utils
from omegaconf import OmegaConf

from nequip.data import AtomicDataDict, keys

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "data_demo.yaml"


def main(config_path: Path = DEFAULT_CONFIG) -> dict:
    config = OmegaConf.load(config_path)
    datamodule = hydra.utils.instantiate(config.data, _recursive_=False)
    datamodule.setup("fit")
    datamodule.setup("test")
    sizes = {name: sum(len(d) for d in getattr(datamodule, f"{name}_dataset")) for name in ("train", "val", "test")}
    print(f"config: {config_path}")
    print(f"frames per split: {sizes}")

    batch = next(iter(datamodule.train_dataloader()))
    print(
        f"first training batch: {AtomicDataDict.num_frames(batch)} frames, "
        f"{AtomicDataDict.num_nodes(batch)} atoms, {AtomicDataDict.num_edges(batch)} edges; fields "
        f"{sorted(batch)}"
    )
    print(f"  total_energy[:3] = {batch[keys.TOTAL_ENERGY_KEY][:3, 0].tolist()}")

    stats = datamodule.get_statistics()
    print("training-set statistics (${training_data_stats:NAME}):")
    flattened = {f"{name}_{key}" for name, value in stats.items() if isinstance(value, dict) for key in value}
    for name, value in stats.items():
        if name in flattened:
            continue  # NAME_TYPE copies of the per-type dicts
        if isinstance(value, dict):
            value = "{" + ", ".join(f"{k}: {v:.6g}" for k, v in value.items()) + "}"
        else:
            value = f"{value:.6g}"
        print(f"  {name:32s} {value}")
    return stats


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CONFIG)
