"""``ZBLPairPotential``: a model of the ZBL screened nuclear repulsion alone (upstream NequIP's builder of that name).

A reference model with no learned parameters: the per-atom ZBL energy
(:class:`nequip.nn.pair_potential.ZBL`), summed per frame, with forces and stress by
autograd. Useful to inspect the repulsion a NequIP model's ``pair_potential`` adds, and to
test integrations (calculator, export) with an analytic model.
"""

from typing import Dict, Optional, Sequence, Union

from nequip.data import keys
from nequip.nn.atomwise import AtomwiseReduce
from nequip.nn.force_stress import ForceStressOutput
from nequip.nn.graph_module import SequentialGraphNetwork
from nequip.nn.pair_potential import ZBL
from nequip.nn.radial import EdgeLengthNormalizer

from .builder import model_builder


@model_builder
def ZBLPairPotential(
    r_max: float,
    type_names: Sequence[str],
    chemical_species: Sequence[str],
    units: str,
    polynomial_cutoff_p: int = 6,
    per_edge_type_cutoff: Optional[Dict[str, Union[float, Dict[str, float]]]] = None,
):
    """Model builder: the ZBL pair repulsion as a whole model (energy, forces, stress).

    Args:
        r_max: cutoff radius (length units of the data), where the polynomial envelope
            brings the repulsion to zero.
        type_names: the model's atom type names.
        chemical_species: the chemical symbol of each type, in the order of ``type_names``.
        units: ``"metal"`` (eV, Å) or ``"real"`` (kcal/mol, Å).
        polynomial_cutoff_p: order of the polynomial envelope (default 6).
        per_edge_type_cutoff: optional cutoffs per pair of types (as for ``NequIPGNNModel``).

    Example:
        >>> model = ZBLPairPotential(seed=0, model_dtype="float64", type_names=["H", "O"], r_max=3.0,
        ...                          chemical_species=["H", "O"], units="metal")
        >>> sorted(name for name, _ in model.named_parameters())
        []
    """
    edge_norm = EdgeLengthNormalizer(r_max, type_names, per_edge_type_cutoff)
    zbl = ZBL(
        units=units,
        chemical_species=chemical_species,
        type_names=type_names,
        polynomial_cutoff_p=polynomial_cutoff_p,
        irreps_in=edge_norm.irreps_out,
    )
    total = AtomwiseReduce(keys.PER_ATOM_ENERGY_KEY, keys.TOTAL_ENERGY_KEY, reduce="sum", irreps_in=zbl.irreps_out)
    network = SequentialGraphNetwork({"edge_norm": edge_norm, "pair_potential": zbl, "total_energy_sum": total})
    return ForceStressOutput(network)
