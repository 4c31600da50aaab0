"""ChemicalSpeciesToAtomTypeMapper: identity and explicit maps, upstream's chemical_symbols form, errors."""

import ase.build
import pytest
import torch

from nequip.data import from_ase, keys
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper


def _ethanol():
    data = from_ase(ase.build.molecule("CH3CH2OH"))
    data[keys.FRAME_INDEX_KEY] = torch.tensor([12])
    return data


def test_identity_map():
    data = ChemicalSpeciesToAtomTypeMapper(["H", "C", "O"])(_ethanol())
    symbols = ase.build.molecule("CH3CH2OH").get_chemical_symbols()
    assert data[keys.ATOM_TYPE_KEY].tolist() == [["H", "C", "O"].index(s) for s in symbols]


def test_explicit_map_and_upstream_form_agree():
    explicit = ChemicalSpeciesToAtomTypeMapper(
        ["carbon", "hydrogen", "oxygen"], {"C": "carbon", "H": "hydrogen", "O": "oxygen"}
    )(_ethanol())
    upstream = ChemicalSpeciesToAtomTypeMapper(chemical_symbols=["C", "H", "O"])(_ethanol())
    assert torch.equal(explicit[keys.ATOM_TYPE_KEY], upstream[keys.ATOM_TYPE_KEY])


def test_unmapped_species_names_species_and_frame():
    with pytest.raises(ValueError, match=r"frame \[12\] contains species \['O'\] that are not mapped"):
        ChemicalSpeciesToAtomTypeMapper(["C", "H"])(_ethanol())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(model_type_names=["C", "C4"]), "'C4' is not a chemical symbol"),
        (
            dict(model_type_names=["C"], chemical_species_to_atom_type_map={"C": "X"}),
            "'X', which is not in model_type_names",
        ),
        (dict(model_type_names=["C", "C"]), "repeated"),
        (dict(model_type_names=["A", "B"], chemical_symbols=["C"]), "chemical_symbols has 1"),
        (dict(), "give model_type_names"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ChemicalSpeciesToAtomTypeMapper(**kwargs)
