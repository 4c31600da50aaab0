"""``MuonParamGroups``: optimizer parameter groups that give the interaction layers' matrices to Muon.

Muon orthogonalizes the update of a weight *matrix*; it suits the dense weights of the
interaction layers and not embeddings, readouts or per-type scales. The split follows upstream
NequIP 0.19's rule on our modules:

* Muon: inside each :class:`~nequip.nn.convnet.ConvNetLayer`, the 2-D weights of the radial
  MLPs (:class:`~nequip.nn.mlp.ScalarLinear`) and the weights of the equivariant linear maps
  (``e3nn.o3.Linear``). An e3nn ``Linear`` stores all its path matrices in one flat vector;
  the group's ``e3nn_reshaping`` entry maps the parameter's index in the group to its
  ``[((start, stop, step), (rows, cols)), ...]`` slices, so that the optimizer can treat each
  path as a matrix;
* Adam (or any other optimizer): every other parameter (type embedding, self-connections,
  readout, per-type scales and shifts, and all weights outside the interaction layers).

In a config (an optimizer that reads ``use_muon`` and ``e3nn_reshaping``, such as upstream's
``MuonWithAuxAdam``)::

    optimizer:
      _target_: ...MuonWithAuxAdam
    param_groups:
      _target_: nequip.model.MuonParamGroups
      muon: {lr: 0.02, weight_decay: 0.0}
      adam: {lr: 0.001, betas: [0.9, 0.95]}
"""

from typing import Any, Dict, List, Mapping, Tuple

import torch
from e3nn import o3

from nequip.nn.convnet import ConvNetLayer
from nequip.nn.mlp import ScalarLinear

#: One e3nn ``Linear`` path: ``((start, stop, step), (rows, cols))`` in the flat weight vector.
PathSlice = Tuple[Tuple[int, int, int], Tuple[int, int]]


def _e3nn_path_slices(linear: o3.Linear) -> List[PathSlice]:
    out = []
    for entry in linear.weight_index_slices:
        index, shape = entry.slice_1D, entry.shape_2D
        out.append(((index.start, index.stop, 1 if index.step is None else index.step), tuple(shape)))
    return out


def MuonParamGroups(model: torch.nn.Module, muon: Mapping[str, Any], adam: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Two optimizer parameter groups: Muon's (``use_muon=True``) and the rest (``use_muon=False``).

    Args:
        model: the model to optimize.
        muon: options of the Muon group (e.g. ``lr``, ``weight_decay``).
        adam: options of the other group.

    Returns:
        two dicts: the Muon group (``params``, ``use_muon=True``, ``e3nn_reshaping``, and the
        entries of ``muon``) and the other group (``params``, ``use_muon=False``, and the
        entries of ``adam``); every trainable parameter is in exactly one group.

    Example:
        >>> from nequip.model import NequIPGNNModel
        >>> model = NequIPGNNModel(seed=0, model_dtype="float64", type_names=["H"], r_max=3.0, num_layers=2,
        ...                        num_features=4, avg_num_neighbors=2.0, per_type_energy_scales=1.0,
        ...                        per_type_energy_shifts=-0.5)
        >>> groups = MuonParamGroups(model, muon={"lr": 0.02}, adam={"lr": 0.001})
        >>> [(g["use_muon"], len(g["params"]), g["lr"]) for g in groups]
        [(True, 8, 0.02), (False, 3, 0.001)]
    """
    muon_params: List[torch.nn.Parameter] = []
    reshaping: Dict[int, List[PathSlice]] = {}
    for layer in model.modules():
        if not isinstance(layer, ConvNetLayer):
            continue
        for module in layer.modules():
            if isinstance(module, ScalarLinear) and module.weight.requires_grad and module.weight.ndim == 2:
                muon_params.append(module.weight)
            elif isinstance(module, o3.Linear) and module.internal_weights and module.weight.requires_grad:
                if module.weight.numel() == 0:
                    continue
                reshaping[len(muon_params)] = _e3nn_path_slices(module)
                muon_params.append(module.weight)
    in_muon = {id(p) for p in muon_params}
    other = [p for p in model.parameters() if p.requires_grad and id(p) not in in_muon]
    return [
        {"params": muon_params, "use_muon": True, "e3nn_reshaping": reshaping, **dict(muon)},
        {"params": other, "use_muon": False, **dict(adam)},
    ]
