"""``FullNequIPGNNModel``: the NequIP GNN with every layer's hyperparameters given explicitly.

Architecture (module names as in upstream NequIP, so state dicts line up): type embedding
(``type_embed``) -> edge spherical harmonics (``spharm``) -> normalized edge lengths
(``edge_norm``) -> Bessel basis times polynomial cutoff (``bessel_encode``) -> convnet
layers (``layer{i}_convnet``; no self-connection and no residual in the first, so an
isolated atom's features are exactly zero) -> per-atom energy readout
(``per_atom_energy_readout``, no bias) -> per-type scale and shift
(``per_type_energy_scale_shift``) -> optional pair potential (``pair_potential``) -> sum
(``total_energy_sum``), assembled by :func:`nequip.nn.nequip_network.nequip_energy_network`
-> forces/stress by autograd (``ForceStressOutput``). This builder checks the
hyperparameters first, so that a bad one stops before any layer is built.

An isolated atom therefore has energy exactly its per-type shift.
"""

import warnings
from typing import Any, Dict, Optional, Sequence, Union

from e3nn import o3

from nequip.nn.convnet import check_activations, check_nonlinearity_type
from nequip.nn.force_stress import ForceStressOutput
from nequip.nn.mlp import check_nonlinearity
from nequip.nn.nequip_network import nequip_energy_network
from nequip.nn.per_type import check_per_type

from .builder import model_builder
from .hyperparameters import build_pair_potential, check_bool, check_int, check_positive_float


def _check_layer_lists(radial_mlp_depth, radial_mlp_width, feature_irreps_hidden) -> int:
    lists = {
        "radial_mlp_depth": radial_mlp_depth,
        "radial_mlp_width": radial_mlp_width,
        "feature_irreps_hidden": feature_irreps_hidden,
    }
    for name, value in lists.items():
        if isinstance(value, str) or not isinstance(value, Sequence) or len(value) == 0:
            raise ValueError(f"{name} must be a non-empty list with one entry per convnet layer, got {value!r}")
    lengths = {name: len(value) for name, value in lists.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"radial_mlp_depth, radial_mlp_width and feature_irreps_hidden must have the same length, got {lengths}"
        )
    for i, (depth, width) in enumerate(zip(radial_mlp_depth, radial_mlp_width)):
        check_int(depth, f"radial_mlp_depth[{i}]", 0)
        check_int(width, f"radial_mlp_width[{i}]", 1)
    return len(radial_mlp_depth)


def _check_irreps(value: Any, argument: str) -> o3.Irreps:
    try:
        return o3.Irreps(value)
    except (ValueError, TypeError, AssertionError) as err:
        raise ValueError(f"{argument}={value!r} is not valid irreps (e.g. '32x0e+32x1o')") from err


def warn_missing_scales_shifts(scales: Any, shifts: Any) -> None:
    """Warn (as upstream NequIP does) when per-type energy scales or shifts are not given."""
    if scales is None:
        warnings.warn(
            "per_type_energy_scales=None: without scales the network's per-atom energies start at the scale of its "
            "unit-variance features; set per_type_energy_scales (e.g. ${training_data_stats:per_type_forces_rms}) "
            "for better-conditioned training",
            UserWarning,
            stacklevel=2,
        )
    if shifts is None:
        warnings.warn(
            "per_type_energy_shifts=None: the shifts are the energies of isolated atoms in the model (E_i -> shift "
            "as atoms separate); setting them is strongly recommended, preferably to the isolated-atom energies "
            "of each type computed with the reference method of the training data (a dict {type name: energy}), "
            "else to ${training_data_stats:per_atom_energy_mean}",
            UserWarning,
            stacklevel=2,
        )


@model_builder
def FullNequIPGNNModel(
    r_max: float,
    type_names: Sequence[str],
    radial_mlp_depth: Sequence[int],
    radial_mlp_width: Sequence[int],
    feature_irreps_hidden: Sequence[Union[str, o3.Irreps]],
    irreps_edge_sh: Union[int, str, o3.Irreps],
    type_embed_num_features: int,
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
    """NequIP GNN energy model with per-layer hyperparameters (see the module docstring).

    Besides the builder arguments ``seed``, ``model_dtype`` and ``compile_mode`` (see
    :func:`~nequip.model.model_builder`):

    Args:
        r_max: cutoff radius (length unit of the data), > 0.
        type_names: atom type names (alphanumeric), in type-index order.
        radial_mlp_depth: hidden layers of each convnet layer's radial MLP (one int per layer).
        radial_mlp_width: hidden width of each radial MLP (one int per layer).
        feature_irreps_hidden: output feature irreps of each convnet layer; the last must
            be scalars only.
        irreps_edge_sh: ``l_max`` (int) or irreps of the edge spherical harmonics.
        type_embed_num_features: width of the learned type embedding.
        readout_mlp_hidden_layers_depth: hidden layers of the per-atom readout (default 0).
        readout_mlp_hidden_layers_width: their width (default: dimension of the last
            layer's features).
        readout_mlp_nonlinearity: ``silu`` (default), ``mish``, ``gelu``, ... or ``None``.
        per_edge_type_cutoff: per-edge-type cutoffs ``{center: cutoff}`` or
            ``{center: {neighbor: cutoff}}``, each in ``(0, r_max]`` (default ``None``).
        num_bessels: number of Bessel basis functions (default 8).
        bessel_trainable: learn the Bessel frequencies (default ``False``).
        polynomial_cutoff_p: exponent p of the polynomial cutoff, >= 2 (default 6).
        avg_num_neighbors: normalization of the neighbor sums: a number or
            ``{type name: number}`` (required, e.g. ``${training_data_stats:num_neighbors_mean}``).
        per_type_energy_scales: per-atom energy scales (energy units): a number or
            ``{type name: number}`` (default ``None``: no scaling, with a warning).
        per_type_energy_shifts: per-atom energy shifts, the isolated-atom energies: a number
            or ``{type name: number}`` (default ``None``: no shift, with a warning).
        per_type_energy_scales_trainable: learn the scales (default ``False``).
        per_type_energy_shifts_trainable: learn the shifts (default ``False``).
        pair_potential: a pair term added to the per-atom energies: a ``_target_`` config
            (e.g. ``nequip.nn.pair_potential.ZBL``; given ``type_names`` and ``irreps_in``)
            or a built graph module (default ``None``).
        do_derivatives: compute forces, stress and virial by autograd (default ``True``).
        convnet_sc: self-connections in the convnet layers after the first (default ``True``).
        learnable_shift: the first layer too gets the self-connection and the residual
            update (as ``convnet_sc`` and ``convnet_resnet`` enable them), so that an isolated
            atom's energy is learned instead of fixed to its per-type shift (default
            ``False``; needs ``convnet_sc`` or ``convnet_resnet``).
        convnet_resnet: residual updates in the layers after the first (default ``False``).
        convnet_nonlinearity_type: ``gate`` (default) or ``norm``.
        convnet_nonlinearity_scalars: ``{"e": ..., "o": ...}`` (default silu/tanh).
        convnet_nonlinearity_gates: ``{"e": ..., "o": ...}`` (default silu/tanh).

    Returns:
        the model, a ``GraphModel`` (or ``CompileGraphModel``).

    Raises:
        ValueError: for invalid hyperparameters (naming the argument).
    """
    r_max = check_positive_float(r_max, "r_max")
    bad_names = [t for t in type_names if not t.isalnum()]
    if bad_names:
        raise ValueError(f"type_names must be alphanumeric (they are space-separated in the metadata), got {bad_names}")
    _check_layer_lists(radial_mlp_depth, radial_mlp_width, feature_irreps_hidden)
    hidden = [_check_irreps(irreps, f"feature_irreps_hidden[{i}]") for i, irreps in enumerate(feature_irreps_hidden)]
    if any(ir.l != 0 for _, ir in hidden[-1]):
        raise ValueError(f"the last convnet layer must output scalars only, got feature_irreps_hidden[-1]={hidden[-1]}")
    if isinstance(irreps_edge_sh, int) and not isinstance(irreps_edge_sh, bool):
        irreps_edge_sh = check_int(irreps_edge_sh, "irreps_edge_sh (l_max)", 0)
    else:
        irreps_edge_sh = _check_irreps(irreps_edge_sh, "irreps_edge_sh")
    check_int(type_embed_num_features, "type_embed_num_features", 1)
    check_int(readout_mlp_hidden_layers_depth, "readout_mlp_hidden_layers_depth", 0)
    if readout_mlp_hidden_layers_width is not None:
        check_int(readout_mlp_hidden_layers_width, "readout_mlp_hidden_layers_width", 1)
    check_nonlinearity(readout_mlp_nonlinearity, "readout_mlp_nonlinearity")
    check_int(num_bessels, "num_bessels", 1)
    if not (
        isinstance(polynomial_cutoff_p, (int, float))
        and not isinstance(polynomial_cutoff_p, bool)
        and polynomial_cutoff_p >= 2
    ):
        raise ValueError(f"polynomial_cutoff_p must be a number >= 2, got {polynomial_cutoff_p!r}")
    for name, flag in (
        ("bessel_trainable", bessel_trainable),
        ("per_type_energy_scales_trainable", per_type_energy_scales_trainable),
        ("per_type_energy_shifts_trainable", per_type_energy_shifts_trainable),
        ("do_derivatives", do_derivatives),
        ("convnet_sc", convnet_sc),
        ("learnable_shift", learnable_shift),
        ("convnet_resnet", convnet_resnet),
    ):
        check_bool(flag, name)
    check_nonlinearity_type(convnet_nonlinearity_type, "convnet_nonlinearity_type")
    scalars = check_activations(convnet_nonlinearity_scalars, "convnet_nonlinearity_scalars")
    gates = check_activations(convnet_nonlinearity_gates, "convnet_nonlinearity_gates")
    if avg_num_neighbors is None:
        raise ValueError(
            "avg_num_neighbors is required (a number or {type name: number}), e.g. "
            "avg_num_neighbors: ${training_data_stats:num_neighbors_mean}"
        )
    avg_num_neighbors = check_per_type(avg_num_neighbors, type_names, "avg_num_neighbors", positive=True)
    scales = check_per_type(per_type_energy_scales, type_names, "per_type_energy_scales")
    shifts = check_per_type(per_type_energy_shifts, type_names, "per_type_energy_shifts")
    for name, value, trainable in (
        ("per_type_energy_scales", scales, per_type_energy_scales_trainable),
        ("per_type_energy_shifts", shifts, per_type_energy_shifts_trainable),
    ):
        if trainable and value is None:
            raise ValueError(f"{name}_trainable=True needs initial {name}, got None")
    warn_missing_scales_shifts(scales, shifts)

    energy_model = nequip_energy_network(
        type_names,
        r_max,
        feature_irreps_hidden=hidden,
        irreps_edge_sh=irreps_edge_sh,
        type_embed_num_features=type_embed_num_features,
        radial_mlp_depth=radial_mlp_depth,
        radial_mlp_width=radial_mlp_width,
        avg_num_neighbors=avg_num_neighbors,
        per_type_energy_scales=scales,
        per_type_energy_shifts=shifts,
        per_type_energy_scales_trainable=per_type_energy_scales_trainable,
        per_type_energy_shifts_trainable=per_type_energy_shifts_trainable,
        per_edge_type_cutoff=per_edge_type_cutoff,
        num_bessels=num_bessels,
        bessel_trainable=bessel_trainable,
        polynomial_cutoff_p=polynomial_cutoff_p,
        readout_mlp_hidden_layers_depth=readout_mlp_hidden_layers_depth,
        readout_mlp_hidden_layers_width=readout_mlp_hidden_layers_width,
        readout_mlp_nonlinearity=readout_mlp_nonlinearity,
        convnet_sc=convnet_sc,
        learnable_shift=learnable_shift,
        convnet_resnet=convnet_resnet,
        convnet_nonlinearity_type=convnet_nonlinearity_type,
        convnet_nonlinearity_scalars=scalars,
        convnet_nonlinearity_gates=gates,
        pair_potential=None
        if pair_potential is None
        else lambda irreps_in: build_pair_potential(pair_potential, type_names, irreps_in),
    )
    return ForceStressOutput(energy_model, do_derivatives=do_derivatives)
