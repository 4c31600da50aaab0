"""``NequIPGNNModel`` and ``NequIPGNNEnergyModel``: the NequIP GNN from a few uniform hyperparameters.

Every convnet layer but the last outputs ``num_features[l]`` copies of each irrep
``l = 0..l_max`` (both parities if ``parity``, else only the natural parity (-1)^l); the
last outputs ``num_features[0]`` even scalars, read out into per-atom energies. See
:func:`~nequip.model.FullNequIPGNNModel` for the architecture.

Example (the model section of upstream NequIP's tutorial, without dataset statistics)::

    model:
      _target_: nequip.model.NequIPGNNModel
      seed: 456
      model_dtype: float32
      type_names: [C, H, O, Cu]
      r_max: 5.0
      num_layers: 4
      l_max: 1
      num_features: 32
      radial_mlp_depth: 2
      radial_mlp_width: 64
      avg_num_neighbors: 20.0
      per_type_energy_shifts: {C: -1.2, H: -0.3, O: -2.1, Cu: -3.4}
      per_type_energy_scales: 1.5
"""

import inspect
from typing import Any, Dict, List, Optional, Sequence, Union

from e3nn import o3

from .builder import model_builder
from .full_model import FullNequIPGNNModel
from .hyperparameters import check_bool, check_int, num_features_per_l


def hidden_irreps(num_features: List[int], l_max: int, parity: bool) -> o3.Irreps:
    """``num_features[l] x l`` for l = 0..l_max, both parities (even first) or only (-1)^l."""
    return o3.Irreps(
        [(num_features[l], (l, p)) for l in range(l_max + 1) for p in ((1, -1) if parity else ((-1) ** l,))]
    )


def NequIPGNNModel(
    r_max: float,
    type_names: Sequence[str],
    num_layers: int = 4,
    l_max: int = 1,
    parity: bool = True,
    num_features: Union[int, List[int]] = 32,
    type_embed_num_features: Optional[int] = None,
    radial_mlp_depth: int = 1,
    radial_mlp_width: int = 128,
    readout_mlp_hidden_layers_depth: int = 0,
    readout_mlp_hidden_layers_width: Optional[int] = None,
    readout_mlp_nonlinearity: Optional[str] = "silu",
    per_edge_type_cutoff: Optional[Dict[str, Union[float, Dict[str, float]]]] = None,
    num_bessels: int = 8,
    bessel_trainable: bool = False,
    polynomial_cutoff_p: int = 6,
    avg_num_neighbors: Optional[Union[float, Dict[str, float]]] = None,
    per_type_energy_scales: Optional[Union[float, Dict[str, float]]] = None,
    per_type_energy_shifts: Optional[Union[float, Dict[str, float]]] = None,
    per_type_energy_scales_trainable: bool = False,
    per_type_energy_shifts_trainable: bool = False,
    pair_potential: Optional[Any] = None,
    do_derivatives: bool = True,
    convnet_sc: bool = True,
    learnable_shift: bool = False,
    convnet_resnet: bool = False,
    convnet_nonlinearity_type: str = "gate",
    convnet_nonlinearity_scalars: Optional[Dict[str, str]] = None,
    convnet_nonlinearity_gates: Optional[Dict[str, str]] = None,
):
    """NequIP GNN model predicting energies and, by default, forces and stress.

    The arguments from ``readout_mlp_hidden_layers_depth`` on (and ``r_max``, ``type_names``)
    are passed to :func:`~nequip.model.FullNequIPGNNModel` unchanged, as upstream NequIP
    passes its extra keyword arguments.

    Besides the builder arguments ``seed`` (int), ``model_dtype`` (``float32`` or
    ``float64``) and ``compile_mode`` (``eager`` or ``compile``), see
    :func:`~nequip.model.model_builder`:

    Args:
        r_max: cutoff radius (length unit of the data).
        type_names: atom type names, in type-index order.
        num_layers: number of convnet layers, >= 1 (default 4; 3-5 work best).
        l_max: maximum rotation order of the features, >= 0 (default 1; 2 is more
            accurate and slower).
        parity: features of both parities (default ``True``); ``False`` keeps only the
            natural parity (-1)^l, often as accurate and faster.
        num_features: multiplicity of the features (default 32), or one per l as a list
            of ``l_max + 1`` ints, e.g. ``[5, 2, 7]`` for ``5x0e, 2x1o, 7x2e`` (``parity=False``).
        type_embed_num_features: width of the type embedding (default ``num_features[0]``).
        radial_mlp_depth: hidden layers of the radial MLPs (default 1).
        radial_mlp_width: hidden width of the radial MLPs (default 128).
        readout_mlp_hidden_layers_depth: hidden layers of the readout MLP (default 0).
        readout_mlp_hidden_layers_width: their width (default ``num_features[0]``).
        readout_mlp_nonlinearity: ``silu`` (default), ``mish``, ``gelu``, ... or ``None``.
        per_edge_type_cutoff: optional cutoffs per edge type, each <= ``r_max``.
        num_bessels: number of Bessel basis functions (default 8).
        bessel_trainable: learn the Bessel frequencies (default ``False``).
        polynomial_cutoff_p: exponent of the polynomial cutoff (default 6).
        avg_num_neighbors: normalization of the neighbor sums, a number or a dict per type
            name (required; e.g. ``${training_data_stats:num_neighbors_mean}``).
        per_type_energy_scales: per-atom energy scales, a number or a dict per type name,
            e.g. ``${training_data_stats:per_type_forces_rms}`` (default ``None``, warns).
        per_type_energy_shifts: per-atom energy shifts, the isolated-atom energies, a number
            or a dict per type name (default ``None``, warns). Isolated-atom energies from
            the reference method are recommended over ``per_atom_energy_mean``.
        per_type_energy_scales_trainable: learn the scales (default ``False``).
        per_type_energy_shifts_trainable: learn the shifts (default ``False``).
        pair_potential: e.g. ``{_target_: nequip.nn.pair_potential.ZBL, units: metal,
            chemical_species: [...]}``, or a built graph module (default ``None``).
        do_derivatives: compute forces and stress by autograd (default ``True``).
        convnet_sc: self-connections in the convnet layers after the first (default ``True``).
        learnable_shift: self-connection and residual (as enabled) in the first layer too,
            so that an isolated atom's energy is learned rather than its per-type shift
            (default ``False``).
        convnet_resnet: residual updates in the layers after the first (default ``False``).
        convnet_nonlinearity_type: ``gate`` (default) or ``norm``.
        convnet_nonlinearity_scalars: ``{"e": ..., "o": ...}`` (default silu/tanh).
        convnet_nonlinearity_gates: ``{"e": ..., "o": ...}`` (default silu/tanh).

    Returns:
        a ``GraphModel`` (``CompileGraphModel`` with ``compile_mode="compile"``).

    Raises:
        ValueError: for invalid hyperparameters, naming the argument.

    Example:
        >>> model = NequIPGNNModel(seed=0, model_dtype="float64", type_names=["H", "O"], r_max=3.0,
        ...                        num_layers=2, num_features=4, radial_mlp_width=8, avg_num_neighbors=3.0,
        ...                        per_type_energy_scales=1.0, per_type_energy_shifts={"H": -1.0, "O": -2.0})
        >>> model.metadata["type_names"], model.r_max
        ('H O', 3.0)
    """
    num_layers = check_int(num_layers, "num_layers", 1)
    l_max = check_int(l_max, "l_max", 0)
    parity = check_bool(parity, "parity")
    features = num_features_per_l(num_features, l_max)
    check_int(radial_mlp_depth, "radial_mlp_depth", 0)
    check_int(radial_mlp_width, "radial_mlp_width", 1)
    hidden = hidden_irreps(features, l_max, parity)
    return FullNequIPGNNModel(
        r_max=r_max,
        type_names=type_names,
        radial_mlp_depth=[radial_mlp_depth] * num_layers,
        radial_mlp_width=[radial_mlp_width] * num_layers,
        feature_irreps_hidden=[str(hidden)] * (num_layers - 1) + [f"{features[0]}x0e"],
        irreps_edge_sh=str(o3.Irreps.spherical_harmonics(l_max)),
        type_embed_num_features=features[0] if type_embed_num_features is None else type_embed_num_features,
        readout_mlp_hidden_layers_depth=readout_mlp_hidden_layers_depth,
        readout_mlp_hidden_layers_width=readout_mlp_hidden_layers_width,
        readout_mlp_nonlinearity=readout_mlp_nonlinearity,
        per_edge_type_cutoff=per_edge_type_cutoff,
        num_bessels=num_bessels,
        bessel_trainable=bessel_trainable,
        polynomial_cutoff_p=polynomial_cutoff_p,
        avg_num_neighbors=avg_num_neighbors,
        per_type_energy_scales=per_type_energy_scales,
        per_type_energy_shifts=per_type_energy_shifts,
        per_type_energy_scales_trainable=per_type_energy_scales_trainable,
        per_type_energy_shifts_trainable=per_type_energy_shifts_trainable,
        pair_potential=pair_potential,
        do_derivatives=do_derivatives,
        convnet_sc=convnet_sc,
        learnable_shift=learnable_shift,
        convnet_resnet=convnet_resnet,
        convnet_nonlinearity_type=convnet_nonlinearity_type,
        convnet_nonlinearity_scalars=convnet_nonlinearity_scalars,
        convnet_nonlinearity_gates=convnet_nonlinearity_gates,
    )


# the energy model takes exactly NequIPGNNModel's arguments but do_derivatives: its signature
# is derived from NequIPGNNModel's, so that the two cannot drift apart
_ENERGY_MODEL_SIGNATURE = inspect.signature(NequIPGNNModel).replace(
    parameters=[p for p in inspect.signature(NequIPGNNModel).parameters.values() if p.name != "do_derivatives"]
)
NequIPGNNModel = model_builder(NequIPGNNModel)


def NequIPGNNEnergyModel(**hyperparameters: Any):
    """Energy-only NequIP GNN, for data sets without forces: total and per-atom energies only.

    Same arguments and defaults as :func:`NequIPGNNModel` except ``do_derivatives`` (always
    off: no forces or stress, and no autograd through the positions). For energy scales,
    use e.g. ``${training_data_stats:total_energy_std}`` of an
    ``EnergyOnlyDataStatisticsManager``.

    Example:
        >>> model = NequIPGNNEnergyModel(seed=0, model_dtype="float64", type_names=["H"], r_max=3.0,
        ...                              num_layers=1, num_features=4, avg_num_neighbors=2.0,
        ...                              per_type_energy_scales=1.0, per_type_energy_shifts=-0.5)
        >>> sorted(field for field in model.irreps_out if "energy" in field)
        ['atomic_energy', 'total_energy']
    """
    return NequIPGNNModel(**hyperparameters, do_derivatives=False)


NequIPGNNEnergyModel.__signature__ = _ENERGY_MODEL_SIGNATURE
NequIPGNNEnergyModel = model_builder(NequIPGNNEnergyModel)
