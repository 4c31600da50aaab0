"""``ASEDataModule``: a ``NequIPDataModule`` whose datasets are ASE-readable files."""

from typing import Any, Callable, ClassVar, Dict, List, Optional, Union

from ..dataset.base import check_file_exists
from ..instantiation import to_plain
from .base import NequIPDataModule

_ASE_DATASET = "nequip.data.dataset.ASEDataset"


class ASEDataModule(NequIPDataModule):
    """:class:`NequIPDataModule` with datasets given as paths of ASE-readable files.

    Every file becomes an :class:`~nequip.data.dataset.ASEDataset` with the same
    ``transforms``, ``ase_args``, ``include_keys``, ``exclude_keys`` and ``key_mapping``.

    Args:
        seed: seed of the splits and of the dataloaders' shuffling.
        train_file_path: training file path(s).
        val_file_path: validation file path(s).
        test_file_path: test file path(s).
        predict_file_path: prediction file path(s).
        split_dataset: dict(s) with ``file_path`` and subset sizes for any of ``train``,
            ``val``, ``test``, ``predict``, e.g. ``{file_path: data.xyz, train: 0.8, val: 0.2}``.
        transforms: transforms (or their configs) applied to every frame, in order.
        ase_args: extra keyword arguments for ``ase.io.read``.
        include_keys: extra ``info``/``arrays`` entries to keep as fields.
        exclude_keys: fields to drop.
        key_mapping: renames of file keys to field names.
        **kwargs: the dataloader configs and ``stats_manager`` of :class:`NequIPDataModule`.
    """

    #: whether the files must exist when the datamodule is built; subclasses that fetch
    #: their files in ``prepare_data`` set it to ``False`` (the dataset checks when built)
    files_exist_when_built: ClassVar[bool] = True

    def __init__(
        self,
        seed: int,
        train_file_path: Optional[Union[str, List[str]]] = None,
        val_file_path: Optional[Union[str, List[str]]] = None,
        test_file_path: Optional[Union[str, List[str]]] = None,
        predict_file_path: Optional[Union[str, List[str]]] = None,
        split_dataset: Optional[Union[Dict, List[Dict]]] = None,
        transforms: Optional[List[Callable]] = None,
        ase_args: Optional[Dict[str, Any]] = None,
        include_keys: Optional[List[str]] = None,
        exclude_keys: Optional[List[str]] = None,
        key_mapping: Optional[Dict[str, str]] = None,
        **kwargs,
    ):
        template = {
            "_target_": _ASE_DATASET,
            "transforms": to_plain(transforms) or [],
            "ase_args": to_plain(ase_args) or {},
            "include_keys": to_plain(include_keys) or [],
            "exclude_keys": to_plain(exclude_keys) or [],
            "key_mapping": to_plain(key_mapping) or {},
        }

        def dataset_config(path, argument: str) -> Dict[str, Any]:
            if self.files_exist_when_built:
                path = check_file_exists(path, argument)
            return {**template, "file_path": path}

        datasets = {}
        for name, paths in (
            ("train", train_file_path),
            ("val", val_file_path),
            ("test", test_file_path),
            ("predict", predict_file_path),
        ):
            paths = to_plain(paths)
            paths = [] if paths is None else paths if isinstance(paths, list) else [paths]
            datasets[f"{name}_dataset"] = [
                dataset_config(path, f"{name}_file_path[{idx}]") for idx, path in enumerate(paths)
            ]

        splits = to_plain(split_dataset)
        splits = [] if splits is None else splits if isinstance(splits, list) else [splits]
        split_configs = []
        for idx, split in enumerate(splits):
            if not isinstance(split, dict) or "file_path" not in split or "dataset" in split:
                raise ValueError(
                    f"split_dataset[{idx}] must be a dict with 'file_path' and subset sizes "
                    f"(e.g. {{file_path: data.xyz, train: 0.8, val: 0.2}}), got {split!r}"
                )
            sizes = {key: value for key, value in split.items() if key != "file_path"}
            split_configs.append(
                {"dataset": dataset_config(split["file_path"], f"split_dataset[{idx}].file_path"), **sizes}
            )

        super().__init__(seed=seed, split_dataset=split_configs, **datasets, **kwargs)
