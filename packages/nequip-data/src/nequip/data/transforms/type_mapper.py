"""Map chemical species (atomic numbers) to the model's atom types."""

from typing import Dict, List, Optional

import ase.data
import torch

from .. import AtomicDataDict, keys


def _frame_label(data: AtomicDataDict.Type) -> str:
    if keys.FRAME_INDEX_KEY in data:
        return f"frame {data[keys.FRAME_INDEX_KEY].tolist()}"
    return "this frame"


class ChemicalSpeciesToAtomTypeMapper(torch.nn.Module):
    """Write ``atom_types`` (index into the model's ``type_names``) from ``atomic_numbers``.

    Args:
        model_type_names: the model's type names, in order.
        chemical_species_to_atom_type_map: chemical symbol -> type name. Defaults to the
            identity, for type names that are chemical symbols (``{"C": "C", "H": "H"}``).
        chemical_symbols: upstream NequIP's form: one chemical symbol per model type, in the
            order of the type names (``[C, H, O]``); ``model_type_names`` then defaults to it.

    Example:
        >>> import ase.build
        >>> from nequip.data import from_ase
        >>> mapper = ChemicalSpeciesToAtomTypeMapper(["H", "O"])
        >>> mapper(from_ase(ase.build.molecule("H2O")))["atom_types"].tolist()
        [1, 0, 0]
    """

    def __init__(
        self,
        model_type_names: Optional[List[str]] = None,
        chemical_species_to_atom_type_map: Optional[Dict[str, str]] = None,
        chemical_symbols: Optional[List[str]] = None,
    ):
        super().__init__()
        if model_type_names is None and chemical_symbols is None:
            raise ValueError(
                "give model_type_names (and optionally chemical_species_to_atom_type_map) or chemical_symbols"
            )
        if chemical_symbols is not None:
            if chemical_species_to_atom_type_map is not None:
                raise ValueError("give chemical_species_to_atom_type_map or chemical_symbols, not both")
            model_type_names = list(chemical_symbols) if model_type_names is None else list(model_type_names)
            if len(chemical_symbols) != len(model_type_names):
                raise ValueError(
                    f"chemical_symbols has {len(chemical_symbols)} entries {list(chemical_symbols)} "
                    f"but model_type_names has {len(model_type_names)} {model_type_names}"
                )
            chemical_species_to_atom_type_map = dict(zip(chemical_symbols, model_type_names))
        model_type_names = list(model_type_names)
        if len(set(model_type_names)) != len(model_type_names):
            raise ValueError(f"model_type_names has repeated entries: {model_type_names}")
        if chemical_species_to_atom_type_map is None:
            chemical_species_to_atom_type_map = {name: name for name in model_type_names}

        lookup = torch.full((len(ase.data.chemical_symbols),), -1, dtype=torch.long)
        for symbol, type_name in chemical_species_to_atom_type_map.items():
            if symbol not in ase.data.atomic_numbers:
                raise ValueError(
                    f"chemical_species_to_atom_type_map: {symbol!r} is not a chemical symbol "
                    f"(type names that are not elements need an explicit map, e.g. {{'C': {symbol!r}}})"
                )
            if type_name not in model_type_names:
                raise ValueError(
                    f"chemical_species_to_atom_type_map maps {symbol!r} to {type_name!r}, "
                    f"which is not in model_type_names {model_type_names}"
                )
            lookup[ase.data.atomic_numbers[symbol]] = model_type_names.index(type_name)
        self.model_type_names = model_type_names
        self.chemical_species_to_atom_type_map = dict(chemical_species_to_atom_type_map)
        self.register_buffer("_lookup", lookup, persistent=False)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        if keys.ATOMIC_NUMBERS_KEY not in data:
            if keys.ATOM_TYPE_KEY in data:
                return data  # already typed, e.g. a coarse-grained data set
            raise KeyError(f"{_frame_label(data)} has neither {keys.ATOMIC_NUMBERS_KEY!r} nor {keys.ATOM_TYPE_KEY!r}")
        numbers = data[keys.ATOMIC_NUMBERS_KEY].reshape(-1)
        types = self._lookup.to(numbers.device)[numbers]
        if (types < 0).any():
            unmapped = sorted({ase.data.chemical_symbols[int(z)] for z in numbers[types < 0]})
            raise ValueError(
                f"{_frame_label(data)} contains species {unmapped} that are not mapped to any model type; "
                f"mapped species: {sorted(self.chemical_species_to_atom_type_map)}"
            )
        data[keys.ATOM_TYPE_KEY] = types
        return data
