"""Per-type contributions to a per-frame quantity, fitted by least squares on composition.

The typical use is per-type atomic energies ``e_t`` from total energies:
``E_f ~ sum_t n_{f,t} e_t`` where ``n_{f,t}`` is the number of atoms of type ``t`` in
frame ``f``.
"""

import warnings
from typing import List, Optional, Sequence

import torch
from torchmetrics import Metric

_DTYPE = torch.float64


class CompositionLeastSquares(Metric):
    """Per-type values ``e_t`` that best explain a per-frame quantity as ``sum_t n_t e_t``.

    Streams over batches by accumulating the normal equations ``C^T C`` and ``C^T y`` in
    float64 (``C`` is the (frames, types) matrix of atom counts, ``y`` the per-frame
    values), plus the mean over frames of ``y / N`` (for energies, ``per_atom_energy_mean``).
    The solution is the minimum-norm deviation from that mean:
    ``e = mu + argmin ||d|| over the least-squares solutions of C d = y - mu N``.
    When the counts determine every type (full column rank) this is the ordinary
    least-squares fit, and it recovers ``e_t`` exactly when ``y = sum_t n_t e_t``.

    When the composition matrix is rank-deficient it behaves as follows, with a
    ``UserWarning`` naming the rank and the types concerned:

    - a type that never appears gets ``mu`` (the mean per-atom value);
    - types that cannot be separated (for instance, every frame has the same
      stoichiometry) get the minimum-norm deviation from ``mu``: along directions the
      data cannot resolve they keep ``mu``. With a single stoichiometry and frames of equal
      size, every type gets ``mu``.

    Singular values of ``C`` below ``rcond`` times the largest one count as zero.

    When to use it: the energy shift of each type (``per_type_energy_shifts``) is best set
    to the isolated-atom energies of the reference method. Without them, this fit is the
    data-driven fallback; a single mean per-atom energy for all types is a poor shift when
    the types' energies differ. The fit is only as good as the compositional variety of
    the data, hence the warnings.

    This metric is used through a statistics manager, which counts the atoms of each type
    per frame (``field`` must be a per-frame field with one value per frame) and keys the
    result by type name. The manager calls :meth:`bind_type_names`.

    Args:
        rcond: relative cutoff on the singular values of the composition matrix.
        type_names: the model's type names; usually left out and set by the manager.

    Example:
        >>> m = CompositionLeastSquares(type_names=["A", "B"])
        >>> counts = torch.tensor([[1.0, 2.0], [3.0, 1.0]], dtype=torch.float64)
        >>> m.update(counts @ torch.tensor([-1.0, -5.0], dtype=torch.float64), counts)
        >>> [round(v, 10) for v in m.compute().tolist()]
        [-1.0, -5.0]
    """

    full_state_update = False

    def __init__(self, rcond: float = 1e-6, type_names: Optional[Sequence[str]] = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rcond) < 1.0:
            raise ValueError(f"rcond must be in [0, 1), got {rcond}")
        self.rcond = float(rcond)
        self.type_names: Optional[List[str]] = None
        if type_names is not None:
            self.bind_type_names(type_names)

    def bind_type_names(self, type_names: Sequence[str]) -> None:
        """Fix the types (and so the state shapes); called once by the statistics manager."""
        type_names = [str(t) for t in type_names]
        if self.type_names is not None:
            if self.type_names != type_names:
                raise ValueError(
                    f"CompositionLeastSquares was set up for type_names {self.type_names}, "
                    f"but the statistics manager has type_names {type_names}"
                )
            return
        if len(type_names) == 0:
            raise ValueError("type_names must not be empty")
        self.type_names = type_names
        num_types = len(type_names)
        self.add_state("gram", default=torch.zeros(num_types, num_types, dtype=_DTYPE), dist_reduce_fx="sum")
        self.add_state("rhs", default=torch.zeros(num_types, dtype=_DTYPE), dist_reduce_fx="sum")
        self.add_state("per_atom_total", default=torch.zeros((), dtype=_DTYPE), dist_reduce_fx="sum")
        self.add_state("num_frames", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, values: torch.Tensor, counts: torch.Tensor) -> None:
        """Add frames.

        Args:
            values: (B,) per-frame values (e.g. total energies).
            counts: (B, num_types) number of atoms of each type in each frame.
        """
        if self.type_names is None:
            raise RuntimeError("CompositionLeastSquares.bind_type_names() must be called before update()")
        values = values.detach().to(device=self.device, dtype=_DTYPE).reshape(-1)
        counts = counts.detach().to(device=self.device, dtype=_DTYPE)
        if counts.shape != (values.shape[0], len(self.type_names)):
            raise ValueError(
                f"counts has shape {tuple(counts.shape)}, expected ({values.shape[0]}, {len(self.type_names)})"
            )
        self.gram = self.gram + counts.T @ counts
        self.rhs = self.rhs + counts.T @ values
        self.per_atom_total = self.per_atom_total + (values / counts.sum(dim=1)).sum()
        self.num_frames = self.num_frames + values.shape[0]

    def compute(self) -> torch.Tensor:
        """(num_types,) fitted per-type values, in the order of ``type_names``."""
        if self.type_names is None:
            raise RuntimeError("CompositionLeastSquares.bind_type_names() must be called before compute()")
        mu = self.per_atom_total / self.num_frames.to(_DTYPE)
        gram, names = self.gram, self.type_names
        # normal equations of C d = y - mu N, with N = C 1
        rhs = self.rhs - mu * gram.sum(dim=1)
        present = torch.diagonal(gram) > 0
        result = torch.full((len(names),), float(mu), dtype=_DTYPE, device=gram.device)
        absent = [names[i] for i in range(len(names)) if not present[i]]
        if absent:
            warnings.warn(
                f"CompositionLeastSquares: types {absent} never appear in the data; "
                f"their value is the mean per-atom value over frames ({float(mu):.6g})",
                stacklevel=2,
            )
        idx = torch.nonzero(present).reshape(-1)
        if idx.numel() == 0:
            return result
        sub = gram[idx][:, idx]
        eigval, eigvec = torch.linalg.eigh(sub)
        singular = eigval.clamp(min=0).sqrt()
        keep = singular > self.rcond * singular.max()
        v_keep = eigvec[:, keep]
        deviation = v_keep @ ((v_keep.T @ rhs[idx]) / eigval[keep])
        result[idx] = mu + deviation
        rank = int(keep.sum())
        if rank < idx.numel():
            null = eigvec[:, ~keep]
            loose = (null.square().sum(dim=1) > 1e-8).tolist()
            inseparable = [names[int(i)] for i, flag in zip(idx, loose) if flag]
            present_names = [names[int(i)] for i in idx]
            warnings.warn(
                f"CompositionLeastSquares: the composition matrix has rank {rank} but "
                f"{idx.numel()} types appear in the data ({present_names}); types {inseparable} "
                "cannot be separated (e.g. every frame has the same stoichiometry). They get the "
                "minimum-norm deviation from the mean per-atom value "
                f"({float(mu):.6g}); prefer isolated-atom energies if you have them.",
                stacklevel=2,
            )
        return result

    def __str__(self) -> str:
        return "lstsq"
