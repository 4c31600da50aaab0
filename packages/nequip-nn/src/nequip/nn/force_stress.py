r"""Forces, stress and virial by automatic differentiation of the total energy.

Positions and cell of every frame b are deformed by a symmetric strain
:math:`\varepsilon_b` (zero, but differentiated): :math:`r \to r (1 + \varepsilon)`,
:math:`h \to h (1 + \varepsilon)` (rows of h are the lattice vectors). Then

* forces :math:`F_i = -\partial E / \partial r_i` (N, 3);
* virial :math:`W_b = -\partial E / \partial \varepsilon_b` (B, 3, 3);
* stress :math:`\sigma_b = \frac{1}{V_b} \partial E / \partial \varepsilon_b` (B, 3, 3)
  (ASE's sign convention: positive is tensile), with :math:`V_b = |\det h_b|`.

A frame with a zero-volume cell (a molecule: non-periodic frames carry a zero cell) gets
NaN stress, as in upstream NequIP, so that losses and metrics can skip it with their
NaN handling; its virial is still computed. All outputs are float64.
"""

from typing import Any, Mapping, Optional

import torch

from nequip.data import AtomicDataDict, keys

from .graph_module import GraphModuleMixin


class ForceStressOutput(GraphModuleMixin, torch.nn.Module):
    """Wrap an energy model (writing ``total_energy``) to add forces, stress and virial.

    Args:
        func: the energy model; its output must include ``total_energy`` (B, 1).
        do_derivatives: compute forces/stress/virial (default ``True``); ``False`` gives an
            energy-only model (``func`` alone).

    During training (``self.training``) the derivatives keep their graph
    (``create_graph=True``) so that losses on forces and stress can be backpropagated.
    """

    def __init__(self, func: GraphModuleMixin, do_derivatives: bool = True):
        super().__init__()
        if keys.TOTAL_ENERGY_KEY not in func.irreps_out:
            raise ValueError(
                f"ForceStressOutput needs a model that writes {keys.TOTAL_ENERGY_KEY!r}; "
                f"it writes {sorted(func.irreps_out)}"
            )
        self.func = func
        self.do_derivatives = bool(do_derivatives)
        irreps_out: Mapping[str, Optional[Any]] = {}
        if self.do_derivatives:
            irreps_out = {keys.FORCE_KEY: "1o", keys.STRESS_KEY: "1o", keys.VIRIAL_KEY: "1o"}
        self._init_irreps(irreps_in=func.irreps_in, irreps_out={**func.irreps_out, **irreps_out})

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        if not self.do_derivatives:
            return self.func(data)
        with torch.enable_grad():
            return self._with_derivatives(data)

    def _with_derivatives(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data = AtomicDataDict.with_batch_(dict(data))
        pos = data[keys.POSITIONS_KEY]
        if not pos.requires_grad:
            pos = pos.detach().requires_grad_(True)
        batch = data[keys.BATCH_KEY]
        num_frames = data[keys.NUM_NODES_KEY].shape[0]
        strain = torch.zeros(num_frames, 3, 3, dtype=pos.dtype, device=pos.device, requires_grad=True)
        symmetric = 0.5 * (strain + strain.transpose(-1, -2))
        data[keys.POSITIONS_KEY] = pos + torch.bmm(pos.unsqueeze(1), symmetric[batch]).squeeze(1)
        cell = data.get(keys.CELL_KEY)
        if cell is not None:
            cell = cell.view(-1, 3, 3).expand(num_frames, 3, 3)
            data[keys.CELL_KEY] = cell + torch.bmm(cell, symmetric)
        for derived in (keys.EDGE_VECTORS_KEY, keys.EDGE_LENGTH_KEY):
            data.pop(derived, None)  # must be recomputed from the strained geometry

        data = self.func(data)
        energy = data[keys.TOTAL_ENERGY_KEY]
        forces, de_dstrain = torch.autograd.grad(
            [energy.sum()], [pos, strain], create_graph=self.training, allow_unused=True
        )
        # allow_unused: a model whose energy does not depend on positions (no edges) gives None
        forces = torch.zeros_like(pos) if forces is None else forces.neg()
        if de_dstrain is None:
            de_dstrain = torch.zeros_like(strain)
        data[keys.FORCE_KEY] = forces.to(torch.float64)
        data[keys.VIRIAL_KEY] = de_dstrain.neg().to(torch.float64)
        if cell is not None:
            volume = torch.linalg.det(cell).abs().view(-1, 1, 1)
            has_volume = volume > 0
            safe = torch.where(has_volume, volume, torch.ones_like(volume))
            stress = torch.where(has_volume, de_dstrain / safe, torch.full_like(de_dstrain, float("nan")))
        else:
            stress = torch.full_like(de_dstrain, float("nan"))
        data[keys.STRESS_KEY] = stress.to(torch.float64)
        data[keys.POSITIONS_KEY] = pos
        if cell is not None:
            data[keys.CELL_KEY] = cell
        return data


class PartialForceOutput(GraphModuleMixin, torch.nn.Module):
    """Wrap an energy model (writing ``atomic_energy``) to add the partial forces and the forces.

    ``partial_forces[i, j] = -dE_i / dr_j`` (N, N, 3), the force on atom j from atom i's
    energy, by the Jacobian of the per-atom energies (N backward passes: for analysis of
    small systems, not for training at scale); ``forces = partial_forces.sum(0)`` (N, 3).
    Both float64.

    Args:
        func: the energy model; its output must include ``atomic_energy`` (N, 1).
        vectorize: compute the Jacobian with ``torch.vmap`` (``torch.autograd.functional.jacobian``'s
            ``vectorize``; default ``False``).
    """

    def __init__(self, func: GraphModuleMixin, vectorize: bool = False):
        super().__init__()
        if keys.PER_ATOM_ENERGY_KEY not in func.irreps_out:
            raise ValueError(
                f"PartialForceOutput needs a model that writes {keys.PER_ATOM_ENERGY_KEY!r}; "
                f"it writes {sorted(func.irreps_out)}"
            )
        self.func = func
        self.vectorize = bool(vectorize)
        self._init_irreps(
            irreps_in=func.irreps_in,
            irreps_out={**func.irreps_out, keys.PARTIAL_FORCE_KEY: "1o", keys.FORCE_KEY: "1o"},
        )

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data = dict(data)
        outputs: AtomicDataDict.Type = {}

        def per_atom_energy(pos: torch.Tensor) -> torch.Tensor:
            nonlocal outputs
            outputs = self.func({**data, keys.POSITIONS_KEY: pos})
            return outputs[keys.PER_ATOM_ENERGY_KEY].view(-1)

        with torch.enable_grad():
            jacobian = torch.autograd.functional.jacobian(
                per_atom_energy, data[keys.POSITIONS_KEY], create_graph=self.training, vectorize=self.vectorize
            )
        partial_forces = jacobian.neg().to(torch.float64)
        outputs[keys.PARTIAL_FORCE_KEY] = partial_forces
        outputs[keys.FORCE_KEY] = partial_forces.sum(dim=0)
        return outputs
