"""Statistics of large data sets, computed once by a separate run and read by the ``big_dataset_stats`` resolver.

Computing the training-data statistics (``${training_data_stats:NAME}``) means a pass over
the whole training set at the start of every run; for a data set of millions of frames that
pass is worth doing once. :func:`compute_big_dataset_stats` runs a training config's ``data``
section for each of several cutoff radii and writes one YAML file::

    python -m nequip.train.big_dataset_stats -cp configs -cn my_config \\
        --cutoffs 4.5 5.0 6.0 --out stats/MyData.yaml [hydra overrides]

holding the statistics that do not depend on the cutoff at the top level, and those that do
(``num_neighbors_mean``, ``per_type_num_neighbors_mean``) as ``{"5.0": value}`` maps by
cutoff. A config then reads them with ``${big_dataset_stats:NAME,CUTOFF}`` (``NAME`` the
file's path, or its stem in the folder of statistics files shipped with this package), which
gives the file's statistics with the neighbor statistics of that cutoff::

    stats: ${big_dataset_stats:stats/MyData.yaml,5.0}
    ...
        avg_num_neighbors: ${stats.num_neighbors_mean}
"""

import argparse
import os
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import yaml

#: Statistics that depend on the cutoff radius, stored by cutoff.
CUTOFF_DEPENDENT = ("num_neighbors_mean", "per_type_num_neighbors_mean")
#: Folder of the statistics files shipped with this package (``NAME.yaml``).
SHIPPED_STATS_DIR = Path(__file__).parent / "dataset_stats"


def cutoff_key(cutoff_radius: float) -> str:
    """The key of a cutoff in a statistics file: one decimal (``"5.0"``)."""
    return f"{float(cutoff_radius):.1f}"


def _plain(value: Any) -> Any:
    """Statistics as YAML-ready numbers, lists and dicts (tensors converted)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def stats_file(name: str) -> Path:
    """The statistics file of ``name``: a path to a YAML file, or ``NAME.yaml`` among the shipped files.

    Raises:
        ValueError: when neither exists (the message lists the shipped names).
    """
    if name.endswith((".yaml", ".yml")) or os.sep in name:
        path = Path(name)
    else:
        path = SHIPPED_STATS_DIR / f"{name}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in SHIPPED_STATS_DIR.glob("*.yaml")) if SHIPPED_STATS_DIR.is_dir() else []
        raise ValueError(
            f"big_dataset_stats: no statistics file {str(path)!r} for {name!r}; give the path of a file made by "
            f"`python -m nequip.train.big_dataset_stats` (shipped names: {shipped})"
        )
    return path


def big_dataset_stats(name: str, cutoff_radius: float) -> Dict[str, Any]:
    """The statistics of file ``name`` (see :func:`stats_file`), neighbor statistics taken at ``cutoff_radius``.

    Raises:
        ValueError: for a missing file, or a cutoff the file has no neighbor statistics for
            (the message lists those it has).
    """
    path = stats_file(str(name))
    with open(path) as handle:
        stats = yaml.safe_load(handle)
    key = cutoff_key(cutoff_radius)
    for field in CUTOFF_DEPENDENT:
        if field not in stats:
            continue
        by_cutoff = {cutoff_key(k): v for k, v in stats[field].items()}
        if key not in by_cutoff:
            raise ValueError(
                f"big_dataset_stats: {path} has no {field} for cutoff {key}; it has cutoffs {sorted(by_cutoff)}"
            )
        stats[field] = by_cutoff[key]
    return stats


def compute_big_dataset_stats(
    config_dir: str,
    config_name: str,
    cutoffs: Sequence[float],
    out: str,
    overrides: Sequence[str] = (),
    cutoff_option: str = "cutoff_radius",
) -> Dict[str, Any]:
    """Compute the statistics of a config's ``data`` section at each cutoff and write them to ``out``.

    The config's ``cutoff_option`` (a top-level key that the neighbor-list transform
    interpolates, ``cutoff_radius`` in the example configs) is set to each cutoff in turn.

    Returns:
        what was written.

    Raises:
        ValueError: for no cutoffs, or a ``data`` section without a ``stats_manager``.
    """
    import hydra.utils
    from hydra import compose, initialize_config_dir

    from .resolvers import register_resolvers

    if not cutoffs:
        raise ValueError("compute_big_dataset_stats needs at least one cutoff")
    register_resolvers()
    result: Dict[str, Any] = {field: {} for field in CUTOFF_DEPENDENT}
    with initialize_config_dir(config_dir=os.path.abspath(config_dir), version_base=None):
        for cutoff in cutoffs:
            config = compose(config_name=config_name, overrides=[*overrides, f"{cutoff_option}={float(cutoff)}"])
            datamodule = hydra.utils.instantiate(config.data, _recursive_=False)
            stats: Optional[Dict[str, Any]] = datamodule.get_statistics()
            if not stats:
                raise ValueError(f"{config_name}: the data section has no `stats_manager`, so there are no statistics")
            for name, value in _plain(dict(stats)).items():
                if name in CUTOFF_DEPENDENT:
                    result[name][cutoff_key(cutoff)] = value
                else:
                    result.setdefault(name, value)
    result = {name: value for name, value in result.items() if value != {}}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as handle:
        yaml.safe_dump(result, handle, sort_keys=False)
    return result


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``python -m nequip.train.big_dataset_stats -cp DIR -cn NAME --cutoffs C1 C2 --out FILE [overrides]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-cp", "--config-path", required=True)
    parser.add_argument("-cn", "--config-name", required=True)
    parser.add_argument("--cutoffs", type=float, nargs="+", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--cutoff-option", default="cutoff_radius")
    args, overrides = parser.parse_known_args(argv)
    compute_big_dataset_stats(
        args.config_path, args.config_name, args.cutoffs, args.out, overrides, cutoff_option=args.cutoff_option
    )


if __name__ == "__main__":
    main()
