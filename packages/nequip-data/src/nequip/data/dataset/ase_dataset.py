"""Dataset of any file that ASE can read (extxyz, ASE trajectories, VASP OUTCAR, ...)."""

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import ase.io

from .. import AtomicDataDict
from ..ase_convert import from_ase
from .base import AtomicDataset, check_file_exists, with_context

# libAtoms' C extxyz parser (the ``ase-extxyz`` plugin): the same frames as ASE's own
# ``extxyz`` reader, several times faster. ``ase_args: {format: extxyz}`` selects ASE's reader.
FAST_EXTXYZ_FORMAT = "cextxyz"
EXTXYZ_SUFFIXES = (".xyz", ".extxyz")


class ASEDataset(AtomicDataset):
    """All frames of an ASE-readable file, read once and converted with :func:`~nequip.data.from_ase`.

    Energies, forces and stress come from the frames' calculator results (extxyz
    ``energy``, ``forces``, ``stress``), other known fields from ``info`` and ``arrays``;
    units are those of the file.

    Args:
        file_path: path to the file.
        transforms: callables ``data -> data`` applied to each frame, in order.
        ase_args: extra keyword arguments for ``ase.io.read``, e.g. ``{"format": "vasp-out"}``;
            ``index`` defaults to ``":"`` (all frames). ``.xyz``/``.extxyz`` files are read
            with libAtoms' C parser (format ``cextxyz``) unless a format is given.
        include_keys: extra ``info``/``arrays`` entries to keep as fields.
        exclude_keys: fields to drop.
        key_mapping: renames of file keys to field names, e.g. ``{"REF_energy": "total_energy"}``.

    Example:
        >>> import ase.build, ase.io, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "h2o.xyz")
        >>> ase.io.write(path, [ase.build.molecule("H2O")] * 3)
        >>> dataset = ASEDataset(path)
        >>> len(dataset), dataset[2]["frame_index"].tolist()
        (3, [2])
    """

    def __init__(
        self,
        file_path: str,
        transforms: Optional[List[Callable]] = None,
        ase_args: Optional[Dict[str, Any]] = None,
        include_keys: Optional[List[str]] = None,
        exclude_keys: Optional[List[str]] = None,
        key_mapping: Optional[Dict[str, str]] = None,
    ):
        super().__init__(transforms=transforms)
        self.file_path = check_file_exists(file_path)
        ase_args = dict(ase_args or {})
        if "filename" in ase_args:
            raise ValueError(f"ase_args must not contain 'filename' (got {ase_args['filename']!r}); use file_path")
        ase_args.setdefault("index", ":")
        ase_args.setdefault("parallel", False)
        if Path(self.file_path).suffix.lower() in EXTXYZ_SUFFIXES:
            ase_args.setdefault("format", FAST_EXTXYZ_FORMAT)
        self.ase_args = ase_args
        try:
            atoms_list = ase.io.read(self.file_path, **ase_args)
        except Exception as err:
            raise with_context(
                err, f"ASEDataset could not read file_path {self.file_path!r} with ase_args {ase_args}: {err}"
            ) from err
        if not isinstance(atoms_list, list):
            atoms_list = [atoms_list]
        if len(atoms_list) == 0:
            raise ValueError(f"ASEDataset: file_path {self.file_path!r} has no frames (ase_args {ase_args})")

        self.data_list: List[AtomicDataDict.Type] = []
        for idx, atoms in enumerate(atoms_list):
            try:
                frame = from_ase(atoms, key_mapping=key_mapping, include_keys=include_keys, exclude_keys=exclude_keys)
            except Exception as err:
                raise with_context(err, f"ASEDataset {self.file_path!r}, frame {idx}: {err}") from err
            self.data_list.append(frame)

    def __len__(self) -> int:
        return len(self.data_list)

    def _get_data_list(self, indices: List[int]) -> List[AtomicDataDict.Type]:
        return [self.data_list[index] for index in indices]

    def describe(self) -> str:
        return f"ASEDataset({self.file_path!r})"
