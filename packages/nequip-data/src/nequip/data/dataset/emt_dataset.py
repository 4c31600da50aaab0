"""Synthetic data computed in-process with ASE's EMT potential, for tests and examples."""

from typing import Callable, List, Optional, Sequence, Tuple, Union

import ase.build
import numpy as np
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from .. import AtomicDataDict
from ..ase_convert import from_ase
from .base import AtomicDataset

EMT_ELEMENTS: Tuple[str, ...] = ("Cu", "Pd", "Au", "Pt", "Al", "Ni", "Ag")


class EMTTestDataset(AtomicDataset):
    """Periodic fcc crystals with Gaussian-noise displacements, labelled by ASE's EMT.

    Frame ``k`` is the orthorhombic fcc cell of ``element`` (the first one, if a list is
    given) repeated ``supercell`` times, each atom displaced by Gaussian noise of standard
    deviation ``sigma``; with several elements, each atom's element is first drawn uniformly
    from the list (a random alloy, a new draw per frame). Energies (eV), forces (eV/Å) and
    stress (eV/Å^3) come from EMT. Everything is drawn from ``numpy.random.default_rng(seed)``,
    so the same arguments give the same frames; with a single element the frames are those of
    upstream NequIP's ``EMTTestDataset``.

    Args:
        transforms: callables ``data -> data`` applied to each frame, in order.
        supercell: repetitions of the 2-atom orthorhombic fcc cell along each axis.
        sigma: standard deviation of the displacements, in Å.
        element: one element or a list of elements, among ``Cu``, ``Pd``, ``Au``, ``Pt``,
            ``Al``, ``Ni``, ``Ag``.
        num_frames: number of frames.
        seed: seed of the random displacements (and substitutions).

    Example:
        >>> dataset = EMTTestDataset(supercell=(2, 2, 2), element=["Cu", "Au"], num_frames=3)
        >>> len(dataset), tuple(dataset[0]["forces"].shape)
        (3, (16, 3))
    """

    def __init__(
        self,
        transforms: Optional[List[Callable]] = None,
        supercell: Tuple[int, int, int] = (4, 4, 4),
        sigma: float = 0.1,
        element: Union[str, Sequence[str]] = "Cu",
        num_frames: int = 10,
        seed: int = 123456,
    ):
        super().__init__(transforms=transforms)
        elements = [element] if isinstance(element, str) else list(element)
        bad = [e for e in elements if e not in EMT_ELEMENTS]
        if not elements or bad:
            raise ValueError(f"element must be one or a list of {list(EMT_ELEMENTS)}, got {element!r}")
        supercell = tuple(supercell)
        if len(supercell) != 3 or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in supercell):
            raise ValueError(f"supercell must be three positive integers, got {supercell}")
        if not float(sigma) >= 0.0:
            raise ValueError(f"sigma must be >= 0 (Å), got {sigma}")
        if not isinstance(num_frames, (int, np.integer)) or num_frames < 1:
            raise ValueError(f"num_frames must be a positive integer, got {num_frames!r}")
        self.element = element
        self.elements = elements
        self.supercell = supercell
        self.sigma = float(sigma)
        self.num_frames = int(num_frames)
        self.seed = seed

        # orthorhombic cells keep the test systems simple for other codes (e.g. LAMMPS)
        base = ase.build.bulk(elements[0], "fcc", orthorhombic=True).repeat(supercell)
        rng = np.random.default_rng(seed)
        self.data_list: List[AtomicDataDict.Type] = []
        for _ in range(self.num_frames):
            atoms = base.copy()
            if len(elements) > 1:
                atoms.set_chemical_symbols(list(rng.choice(elements, size=len(atoms))))
            atoms.positions += rng.normal(loc=0.0, scale=self.sigma, size=atoms.positions.shape)
            atoms.calc = EMT()
            results = {
                "energy": atoms.get_potential_energy(),
                "forces": atoms.get_forces(),
                "stress": atoms.get_stress(voigt=False),
            }
            atoms.calc = SinglePointCalculator(atoms, **results)
            self.data_list.append(from_ase(atoms))

    def __len__(self) -> int:
        return self.num_frames

    def _get_data_list(self, indices: List[int]) -> List[AtomicDataDict.Type]:
        return [self.data_list[index] for index in indices]

    def describe(self) -> str:
        return f"EMTTestDataset(element={self.element!r}, seed={self.seed})"
