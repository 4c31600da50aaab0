"""Chemical symbols of the periodic table and their atomic numbers."""

from typing import Final, List, Sequence, Tuple

import ase.data

#: Chemical symbols of the elements, Z = 1 (H) to Z = 118 (Og); index Z - 1 (from ASE).
CHEMICAL_SYMBOLS: Final[Tuple[str, ...]] = tuple(ase.data.chemical_symbols[1:])


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
