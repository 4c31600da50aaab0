"""ZBL screened nuclear repulsion as a graph module that adds to the per-atom energy."""

from typing import Any, List, Mapping, Optional, Sequence

import torch
from e3nn import o3

from nequip.data import AtomicDataDict, keys
from nequip.nn.graph_module import GraphModuleMixin
from nequip.nn.radial import PolynomialCutoff
from nequip.potentials.elements import atomic_numbers_of
from nequip.potentials.zbl import coulomb_constant, zbl_pair_energy


class ZBL(GraphModuleMixin, torch.nn.Module):
    """Ziegler-Biersack-Littmark pair repulsion added to the model's per-atom energy.

    Each directed edge i -> j adds half of the ZBL pair energy (exactly LAMMPS
    ``pair_style zbl`` without its switching, see :func:`nequip.potentials.zbl_pair_energy`)
    to the center atom i, multiplied by the polynomial envelope u(r_ij / r_max)
    (:class:`nequip.nn.radial.PolynomialCutoff`), so that with full neighbor lists
    (both directions, as in ``AtomicDataDict``) the total is the sum over unordered pairs
    of E_ZBL(r) u(r / r_max), which goes smoothly to zero at r_max with its forces.

    In a config, the user gives ``units`` and ``chemical_species``; the model builder
    gives ``type_names`` and ``irreps_in``, and the module takes its cutoff from the
    normalized edge lengths r_ij / r_max that the model writes (per-edge-type cutoffs
    included)::

        pair_potential:
          _target_: nequip.nn.pair_potential.ZBL
          units: metal
          chemical_species: ${chemical_symbols}

    Args:
        units: LAMMPS unit style of the data: ``"metal"`` (eV, Å) or ``"real"``
            (kcal/mol, Å).
        chemical_species: chemical symbol of each atom type, in the order of
            ``type_names`` (e.g. ``["C", "H", "O"]``).
        type_names: the model's atom type names; must have as many entries as
            ``chemical_species``. Defaults to ``chemical_species`` (type names that are
            chemical symbols).
        r_max: cutoff radius at which the envelope reaches zero, Å. If ``None``, the
            module instead reads the reduced edge lengths r_ij / r_max
            (``keys.NORM_LENGTH_KEY``, written by the model's edge-length normalization,
            per-edge-type cutoffs included), which must then be in ``irreps_in``.
        polynomial_cutoff_p: order p >= 2 of the polynomial envelope (default 6).
        per_atom_energy_field: field to add the per-atom energy to, shape (N, 1); created
            if absent from the data. If present in ``irreps_in`` it must be ``1x0e``.
        irreps_in: fields available to this module -> irreps (given by the model builder).

    Raises:
        ValueError: for unknown ``units`` (lists the allowed ones), a symbol that is not
            an element (lists the allowed ones), ``chemical_species`` and ``type_names``
            of different lengths (names both), a non-positive ``r_max`` or
            ``polynomial_cutoff_p``, ``r_max=None`` without the reduced edge lengths in
            ``irreps_in``, or a per-atom energy field that is not ``1x0e``.

    Example:
        >>> import torch
        >>> from nequip.data import keys
        >>> zbl = ZBL(units="metal", chemical_species=["H"], r_max=4.0)
        >>> data = {
        ...     keys.POSITIONS_KEY: torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64),
        ...     keys.EDGE_INDEX_KEY: torch.tensor([[0, 1], [1, 0]]),
        ...     keys.ATOM_TYPE_KEY: torch.tensor([0, 0]),
        ... }
        >>> round(zbl(data)[keys.PER_ATOM_ENERGY_KEY].sum().item(), 6)  # E_ZBL(1 Å) u(1/4), eV
        1.02124
    """

    units: str
    polynomial_cutoff_p: float
    per_atom_energy_field: str
    use_norm_length: bool
    r_max: float

    def __init__(
        self,
        units: str,
        chemical_species: Sequence[str],
        type_names: Optional[Sequence[str]] = None,
        r_max: Optional[float] = None,
        polynomial_cutoff_p: float = 6.0,
        per_atom_energy_field: str = keys.PER_ATOM_ENERGY_KEY,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__()
        coulomb_constant(units)  # raises ValueError for unknown units
        if isinstance(chemical_species, str):
            raise ValueError(
                f"chemical_species: got the string {chemical_species!r}; give a list of "
                "chemical symbols, one per atom type, e.g. ['C', 'H', 'O']"
            )
        chemical_species = [str(s) for s in chemical_species]
        if len(chemical_species) == 0:
            raise ValueError("chemical_species: got an empty list; give one chemical symbol per atom type")
        atomic_numbers = atomic_numbers_of(chemical_species, "chemical_species")
        type_names = list(chemical_species) if type_names is None else [str(t) for t in type_names]
        if len(type_names) != len(chemical_species):
            raise ValueError(
                f"chemical_species has {len(chemical_species)} entries {chemical_species}, but "
                f"type_names has {len(type_names)} entries {type_names}; give one chemical "
                "symbol per type name, in the same order"
            )
        if r_max is not None and not float(r_max) > 0:
            raise ValueError(f"r_max: got {r_max!r}; it must be a positive length (or None)")

        self._init_irreps(
            irreps_in=irreps_in,
            required_irreps_in=[keys.NORM_LENGTH_KEY] if r_max is None else None,
            irreps_out={per_atom_energy_field: "0e"},
        )
        present = self.irreps_in.get(per_atom_energy_field, o3.Irreps("0e"))
        if per_atom_energy_field in self.irreps_in and present != o3.Irreps("0e"):
            raise ValueError(
                f"ZBL: per_atom_energy_field {per_atom_energy_field!r} has irreps {present} in "
                "irreps_in, but ZBL adds a per-atom energy and needs 1x0e"
            )

        self.units = units
        self.chemical_species: List[str] = chemical_species
        self.type_names: List[str] = type_names
        self.use_norm_length = r_max is None
        self.r_max = 0.0 if r_max is None else float(r_max)
        self.polynomial_cutoff_p = float(polynomial_cutoff_p)
        self.envelope = PolynomialCutoff(polynomial_cutoff_p)
        self.per_atom_energy_field = per_atom_energy_field
        #: (num_types,) float64, atomic number of each atom type
        self.register_buffer("atomic_numbers", torch.tensor(atomic_numbers, dtype=torch.float64))

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data = AtomicDataDict.with_edge_vectors_(data, with_lengths=True)
        edge_index = data[keys.EDGE_INDEX_KEY]
        center = edge_index[0]
        r = data[keys.EDGE_LENGTH_KEY].reshape(-1).to(torch.float64)
        if self.use_norm_length:
            x = data[keys.NORM_LENGTH_KEY].reshape(-1).to(torch.float64)
        else:
            x = r / self.r_max

        z = torch.index_select(self.atomic_numbers, 0, data[keys.ATOM_TYPE_KEY].reshape(-1))
        z_i = torch.index_select(z, 0, center)
        z_j = torch.index_select(z, 0, edge_index[1])
        pair_energy = zbl_pair_energy(r, z_i, z_j, units=self.units)
        half_edge_energy = 0.5 * pair_energy * self.envelope(x)

        if self.per_atom_energy_field in data:
            previous = data[self.per_atom_energy_field]
            # (the field may hold only the local atoms when ghost atoms follow them)
            num_nodes = previous.shape[0]
        else:
            previous = None
            num_nodes = data[keys.POSITIONS_KEY].shape[0]
        atomic_energy = torch.zeros(num_nodes, 1, dtype=torch.float64, device=r.device)
        atomic_energy = atomic_energy.index_add(0, center, half_edge_energy.unsqueeze(-1))
        if previous is not None:
            atomic_energy = atomic_energy + previous.to(torch.float64)
        data[self.per_atom_energy_field] = atomic_energy
        return data

    def extra_repr(self) -> str:
        cutoff = "r_max from normed edge lengths" if self.use_norm_length else f"r_max={self.r_max}"
        return (
            f"units={self.units!r}, chemical_species={self.chemical_species}, "
            f"{cutoff}, polynomial_cutoff_p={self.polynomial_cutoff_p}"
        )
