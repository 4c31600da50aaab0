"""Chemical symbols of the periodic table and their atomic numbers."""

from typing import Final, List, Sequence, Tuple

#: Chemical symbols of the elements, Z = 1 (H) to Z = 118 (Og); index Z - 1.
CHEMICAL_SYMBOLS: Final[Tuple[str, ...]] = (
    "H", "He",
    "Li", "Be", "B", "C", "N", "O", "F", "Ne",
    "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar",
    "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd",
    "In", "Sn", "Sb", "Te", "I", "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy",
    "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt",
    "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn",
    "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf",
    "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds",
    "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og",
)  # fmt: skip


def atomic_numbers_of(chemical_species: Sequence[str], argument: str = "chemical_species") -> List[int]:
    """Atomic number of each chemical symbol.

    Args:
        chemical_species: chemical symbols, e.g. ``["C", "H", "O"]`` (case-sensitive).
        argument: name of the caller's argument, used in the error message.

    Returns:
        The atomic numbers, e.g. ``[6, 1, 8]``.

    Raises:
        ValueError: if a symbol is not an element of the periodic table; the message
            names the argument, the offending symbols and the allowed symbols.

    Example:
        >>> atomic_numbers_of(["C", "H", "O"])
        [6, 1, 8]
    """
    unknown = [s for s in chemical_species if s not in CHEMICAL_SYMBOLS]
    if unknown:
        raise ValueError(
            f"{argument}: {unknown} are not chemical symbols of elements "
            f"(got {list(chemical_species)}); allowed symbols are {list(CHEMICAL_SYMBOLS)}"
        )
    return [CHEMICAL_SYMBOLS.index(s) + 1 for s in chemical_species]
