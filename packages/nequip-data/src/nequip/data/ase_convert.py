"""Conversion between ``ase.Atoms`` and ``AtomicDataDict`` (``from_ase`` / ``to_ase``)."""

from typing import Dict, Iterable, List, Optional

import ase
import ase.data
import numpy as np
import torch
from ase.calculators.singlepoint import SinglePointCalculator
from ase.stress import full_3x3_to_voigt_6_stress, voigt_6_to_full_3x3_stress

from . import AtomicDataDict, keys
from .fields import get_field_type, is_cartesian_tensor_field, is_long_field, register_fields

# ASE calculator result names -> our field names.
_ASE_RESULTS = {
    "energy": keys.TOTAL_ENERGY_KEY,
    "free_energy": keys.FREE_ENERGY_KEY,
    "forces": keys.FORCE_KEY,
    "stress": keys.STRESS_KEY,
    "energies": keys.PER_ATOM_ENERGY_KEY,
    "stresses": keys.PER_ATOM_STRESS_KEY,
    "magmom": keys.TOTAL_MAGMOM_KEY,
    "magmoms": keys.MAGMOM_KEY,
    "charges": keys.CHARGE_KEY,
    "dipole": keys.DIPOLE_KEY,
}
# Fields written by from_ase itself from the Atoms' geometry; never taken from info/arrays.
_GEOMETRY = {"numbers", "positions", keys.POSITIONS_KEY, keys.CELL_KEY, keys.PBC_KEY}


def _as_tensor_3x3(field: str, value) -> np.ndarray:
    """A 3x3 tensor given as Voigt-6, flat 9 or 3x3, returned as (3, 3)."""
    value = np.asarray(value, dtype=np.float64)
    if value.shape == (6,):
        return voigt_6_to_full_3x3_stress(value)
    if value.shape in ((9,), (3, 3), (1, 3, 3)):
        return value.reshape(3, 3)
    raise ValueError(f"field {field!r} has shape {value.shape}; allowed are Voigt-6 (6,), flat (9,) or (3, 3)")


def _to_tensor(field: str, value, n_atoms: int) -> torch.Tensor:
    if is_cartesian_tensor_field(field) and get_field_type(field) == "graph":
        return torch.from_numpy(_as_tensor_3x3(field, value)).unsqueeze(0)
    dtype = torch.long if is_long_field(field) else torch.float64
    tensor = torch.as_tensor(np.asarray(value), dtype=dtype)
    kind = get_field_type(field)
    if kind == "node":
        if tensor.shape[:1] != (n_atoms,):
            raise ValueError(f"per-atom field {field!r} has shape {tuple(tensor.shape)} for {n_atoms} atoms")
        return tensor.reshape(n_atoms, -1)
    if kind == "graph":
        return tensor.reshape(1, -1)
    raise ValueError(f"field {field!r} is an edge field and cannot be read from ase.Atoms")


def from_ase(
    atoms: ase.Atoms,
    key_mapping: Optional[Dict[str, str]] = None,
    include_keys: Optional[Iterable[str]] = None,
    exclude_keys: Optional[Iterable[str]] = None,
) -> AtomicDataDict.Type:
    """Convert one ``ase.Atoms`` into a single-frame ``AtomicDataDict`` (float64).

    Geometry (positions, atomic numbers, cell, pbc) always comes along. Labels are read
    from the attached calculator's results (energy, free_energy, forces, stress, energies,
    magmoms, charges, dipole, ...), then from ``atoms.info`` (per-frame) and
    ``atoms.arrays`` (per-atom), where ASE's property names (``energy``, ``forces``, ...)
    mean the same fields as in calculator results.

    Args:
        atoms: the structure. A non-periodic structure without a cell gets a zero cell.
        key_mapping: renames applied to calculator results, info and arrays before
            anything else, e.g. ``{"REF_energy": "total_energy", "REF_force": "forces"}``.
        include_keys: extra info/arrays entries to keep that are not known fields; they
            are registered as graph (info) or node (arrays) fields. Known fields are always
            kept.
        exclude_keys: fields to drop.

    Stress may be Voigt-6 (ASE order xx, yy, zz, yz, xz, xy), 3x3 or flat 9; it is stored
    as (1, 3, 3) with ASE's sign convention (positive = tensile). Same for virial.
    """
    key_mapping = dict(key_mapping or {})
    include_keys = set(include_keys or ())
    exclude_keys = set(exclude_keys or ())

    sources: Dict[str, object] = {}
    if atoms.calc is not None:
        results = getattr(atoms.calc, "results", {})
        for name, value in results.items():
            sources[key_mapping.get(name, _ASE_RESULTS.get(name, name))] = value
    for container, kind in ((atoms.info, "graph"), (atoms.arrays, "node")):
        for name, value in container.items():
            field = key_mapping.get(name, _ASE_RESULTS.get(name, name))
            if field in _GEOMETRY or name in _GEOMETRY:
                continue
            if field in include_keys:
                try:
                    get_field_type(field)
                except KeyError:
                    register_fields(**{f"{kind}_fields": [field]})
            sources.setdefault(field, value)

    missing = include_keys - set(sources)
    if missing:
        raise KeyError(f"include_keys {sorted(missing)} are not in this ase.Atoms; available: {sorted(set(sources))}")

    n_atoms = len(atoms)
    data: AtomicDataDict.Type = {
        keys.POSITIONS_KEY: torch.as_tensor(atoms.positions, dtype=torch.float64),
        keys.ATOMIC_NUMBERS_KEY: torch.as_tensor(atoms.numbers, dtype=torch.long),
        keys.CELL_KEY: torch.as_tensor(np.asarray(atoms.cell.array), dtype=torch.float64).reshape(1, 3, 3),
        keys.PBC_KEY: torch.as_tensor(atoms.pbc, dtype=torch.bool).reshape(1, 3),
        keys.NUM_NODES_KEY: torch.tensor([n_atoms], dtype=torch.long),
        keys.BATCH_KEY: torch.zeros(n_atoms, dtype=torch.long),
    }
    for field, value in sources.items():
        if field in exclude_keys or field in data:
            continue
        try:
            get_field_type(field)
        except KeyError:
            continue  # not a known field and not asked for in include_keys
        data[field] = _to_tensor(field, value, n_atoms)
    return data


def to_ase(
    data: AtomicDataDict.Type,
    chemical_symbols: Optional[List[str]] = None,
    extra_fields: Optional[List[str]] = None,
) -> List[ase.Atoms]:
    """Convert an ``AtomicDataDict`` (one frame or a batch) into a list of ``ase.Atoms``.

    Energies, forces, stress (as Voigt-6), per-atom energies and the other calculator
    fields go into a ``SinglePointCalculator``; ``extra_fields`` go into ``info`` (per-frame)
    or ``arrays`` (per-atom).

    Args:
        data: the frames.
        chemical_symbols: symbol of each atom type, used when ``data`` has ``atom_types``
            but no ``atomic_numbers``.
        extra_fields: other fields to copy into ``info``/``arrays``.
    """
    if keys.ATOMIC_NUMBERS_KEY not in data and chemical_symbols is None:
        raise ValueError(
            f"data has no {keys.ATOMIC_NUMBERS_KEY!r} field: pass chemical_symbols "
            "(one per atom type) so that atom_types can be converted"
        )
    data = AtomicDataDict.with_batch_(dict(data))
    result_names = {field: name for name, field in _ASE_RESULTS.items()}
    atoms_list = []
    for idx in range(AtomicDataDict.num_frames(data)):
        frame = {k: v.detach().cpu() for k, v in AtomicDataDict.frame_from_batched(data, idx).items()}
        if keys.ATOMIC_NUMBERS_KEY in frame:
            numbers = frame[keys.ATOMIC_NUMBERS_KEY].reshape(-1).numpy()
        else:
            symbols = np.asarray(chemical_symbols)[frame[keys.ATOM_TYPE_KEY].reshape(-1).numpy()]
            numbers = [ase.data.atomic_numbers[s] for s in symbols]
        atoms = ase.Atoms(
            numbers=numbers,
            positions=frame[keys.POSITIONS_KEY].numpy(),
            cell=frame[keys.CELL_KEY].reshape(3, 3).numpy() if keys.CELL_KEY in frame else None,
            pbc=frame[keys.PBC_KEY].reshape(3).numpy() if keys.PBC_KEY in frame else False,
        )
        results = {}
        for field, name in result_names.items():
            if field not in frame:
                continue
            value = frame[field].numpy()
            if field == keys.STRESS_KEY:
                value = full_3x3_to_voigt_6_stress(value.reshape(3, 3))
            elif get_field_type(field) == "graph":
                value = value.reshape(-1)
                value = float(value[0]) if value.size == 1 else value
            elif value.ndim == 2 and value.shape[1] == 1:
                value = value[:, 0]
            results[name] = value
        if results:
            atoms.calc = SinglePointCalculator(atoms, **results)
        for field in extra_fields or ():
            value = frame[field].numpy()
            if get_field_type(field) == "node":
                atoms.arrays[field] = value
            else:
                atoms.info[field] = value.reshape(value.shape[1:])
        atoms_list.append(atoms)
    return atoms_list
