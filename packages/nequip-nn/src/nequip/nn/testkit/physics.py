"""Physical checks of an energy model beyond symmetry.

* forces and stress equal central finite differences of the total energy;
* a batch gives the same results as its frames one by one;
* periodic images: moving atoms by lattice vectors, or doubling the cell, changes nothing
  (per atom);
* an isolated atom's energy is its per-type shift, with zero force;
* energy and forces of a dimer go continuously to zero (relative to the isolated atoms)
  at the cutoff;
* strict locality: an atom farther than ``r_max`` from every other atom changes nothing
  for them. (A message-passing model's per-atom energy can depend on atoms up to
  ``num_layers * r_max`` away through intermediate neighbors, so this is the locality a
  graph model guarantees.)

Every check raises ``AssertionError`` with what differed, by how much, and the tolerance.
"""

from typing import Mapping, Optional, Sequence, Union

import numpy as np
import torch

from nequip.data import AtomicDataDict, keys

from ._compare import Model, assert_close, default_tolerance, evaluate
from .frames import with_neighbors


def _energy(model: Model, data: AtomicDataDict.Type) -> float:
    return float(evaluate(model, data)[keys.TOTAL_ENERGY_KEY].sum())


def _fd_settings(model: Model, step: Optional[float], tol: Optional[float]):
    float64 = getattr(model, "model_dtype", torch.float64) == torch.float64
    step = (1e-4 if float64 else 1e-2) if step is None else step
    tol = (1e-6 if float64 else 2e-2) if tol is None else tol
    return step, tol


def check_forces_finite_differences(
    model: Model, data: AtomicDataDict.Type, step: Optional[float] = None, tol: Optional[float] = None
) -> None:
    """Forces equal -dE/dr by central differences of the total energy (every atom, every axis).

    Default ``step``/``tol``: 1e-4/1e-6 for float64 models, 1e-2/2e-2 for float32 (relative
    to the largest force).
    """
    step, tol = _fd_settings(model, step, tol)
    forces = evaluate(model, data)[keys.FORCE_KEY]
    pos = data[keys.POSITIONS_KEY]
    numeric = torch.zeros_like(forces, dtype=torch.float64)
    for i in range(pos.shape[0]):
        for a in range(3):
            displaced = []
            for sign in (1.0, -1.0):
                moved = pos.clone()
                moved[i, a] += sign * step
                displaced.append(_energy(model, {**data, keys.POSITIONS_KEY: moved}))
            numeric[i, a] = -(displaced[0] - displaced[1]) / (2 * step)
    assert_close("forces vs finite differences", forces, numeric, tol)


def check_stress_finite_differences(
    model: Model, data: AtomicDataDict.Type, step: Optional[float] = None, tol: Optional[float] = None
) -> None:
    """Stress equals (1/V) dE/d(strain) by central differences, for each frame with a cell."""
    step, tol = _fd_settings(model, step, tol)
    out = evaluate(model, data)
    if keys.STRESS_KEY not in out:
        raise AssertionError("the model does not output stress")
    cell = data[keys.CELL_KEY]
    numeric = torch.zeros_like(out[keys.VIRIAL_KEY])
    for a in range(3):
        for b in range(3):
            energies = []
            for sign in (1.0, -1.0):
                strain = torch.zeros(3, 3, dtype=torch.float64)
                strain[a, b] += 0.5 * sign * step
                strain[b, a] += 0.5 * sign * step
                deform = torch.eye(3, dtype=torch.float64) + strain
                moved = {**data, keys.POSITIONS_KEY: data[keys.POSITIONS_KEY] @ deform, keys.CELL_KEY: cell @ deform}
                energies.append(evaluate(model, moved)[keys.TOTAL_ENERGY_KEY].view(-1))
            numeric[:, a, b] = (energies[0] - energies[1]) / (2 * step)
    volume = torch.linalg.det(cell).abs().view(-1, 1, 1)
    has_cell = volume.view(-1) > 0
    if not bool(has_cell.any()):
        raise ValueError("check_stress_finite_differences needs a frame with a non-degenerate cell")
    assert_close("virial vs finite differences", out[keys.VIRIAL_KEY], -numeric, tol)
    assert_close("stress vs finite differences", out[keys.STRESS_KEY][has_cell], (numeric / volume)[has_cell], tol)
    if bool((~has_cell).any()) and not bool(torch.isnan(out[keys.STRESS_KEY][~has_cell]).all()):
        raise AssertionError("frames without a cell must have NaN stress")


def check_batch_consistency(model: Model, frames: Sequence[AtomicDataDict.Type], tol: Optional[float] = None) -> None:
    """Outputs for a batch of ``frames`` equal the outputs for each frame alone."""
    tol = default_tolerance(model) if tol is None else tol
    batched = evaluate(model, AtomicDataDict.batched_from_list(list(frames)))
    start = 0
    for idx, frame in enumerate(frames):
        alone = evaluate(model, frame)
        n = frame[keys.POSITIONS_KEY].shape[0]
        for field, value in alone.items():
            per_atom = field in (keys.FORCE_KEY, keys.PER_ATOM_ENERGY_KEY)
            part = batched[field][start : start + n] if per_atom else batched[field][idx : idx + 1]
            assert_close(f"batch vs frame {idx}: {field}", part, value, tol)
        start += n


def check_periodic_images(
    model: Model, data: AtomicDataDict.Type, r_max: float, tol: Optional[float] = None, seed: int = 0
) -> None:
    """For one periodic frame: (1) moving atoms by random lattice vectors and (2) doubling the
    cell along its first vector leave per-atom energies and forces unchanged (and the stress;
    the total energy doubles in (2))."""
    tol = default_tolerance(model) if tol is None else tol
    cell = data[keys.CELL_KEY][0]
    if not bool(data[keys.PBC_KEY].all()) or float(torch.linalg.det(cell).abs()) == 0.0:
        raise ValueError("check_periodic_images needs a single frame, periodic in all directions")
    out = evaluate(model, data)
    pos = data[keys.POSITIONS_KEY]
    rng = np.random.default_rng(seed)
    shifts = torch.from_numpy(rng.integers(-1, 2, size=(pos.shape[0], 3)).astype(np.float64))
    moved = with_neighbors({**data, keys.POSITIONS_KEY: pos + shifts @ cell}, r_max)
    got = evaluate(model, moved)
    for field, value in out.items():
        assert_close(f"atoms moved by lattice vectors: {field}", got[field], value, tol)

    n = pos.shape[0]
    double_cell = cell.clone()
    double_cell[0] *= 2
    doubled = {
        keys.POSITIONS_KEY: torch.cat([pos, pos + cell[0]]),
        keys.ATOM_TYPE_KEY: data[keys.ATOM_TYPE_KEY].repeat(2),
        keys.CELL_KEY: double_cell.unsqueeze(0),
        keys.PBC_KEY: data[keys.PBC_KEY],
        keys.BATCH_KEY: torch.zeros(2 * n, dtype=torch.long),
        keys.NUM_NODES_KEY: torch.tensor([2 * n]),
    }
    got = evaluate(model, with_neighbors(doubled, r_max))
    for field, value in out.items():
        if field in (keys.FORCE_KEY, keys.PER_ATOM_ENERGY_KEY):
            expected = value.repeat(2, 1)
        elif field in (keys.TOTAL_ENERGY_KEY, keys.VIRIAL_KEY):
            expected = 2 * value
        else:
            expected = value
        assert_close(f"doubled cell: {field}", got[field], expected, tol)


def _frame_of(
    type_indices: Sequence[int], positions: Sequence[Sequence[float]], r_neighbors: float
) -> AtomicDataDict.Type:
    """A non-periodic frame with the given types and positions, neighbors within ``r_neighbors``."""
    n = len(type_indices)
    data = {
        keys.POSITIONS_KEY: torch.tensor(positions, dtype=torch.float64).view(n, 3),
        keys.ATOM_TYPE_KEY: torch.tensor(list(type_indices), dtype=torch.long),
        keys.CELL_KEY: torch.zeros(1, 3, 3, dtype=torch.float64),
        keys.PBC_KEY: torch.zeros(1, 3, dtype=torch.bool),
        keys.BATCH_KEY: torch.zeros(n, dtype=torch.long),
        keys.NUM_NODES_KEY: torch.tensor([n]),
    }
    return with_neighbors(data, r_neighbors)


def _isolated_frame(type_indices: Sequence[int], r_max: float) -> AtomicDataDict.Type:
    """Atoms on a line 1.5 r_max apart (no edges)."""
    spacing = 1.5 * r_max
    return _frame_of(type_indices, [[spacing * k, 0.1 * k, 0.0] for k in range(len(type_indices))], r_max)


def check_isolated_atoms(
    model: Model,
    type_names: Sequence[str],
    r_max: float,
    shifts: Union[float, Mapping[str, float], None],
    tol: Optional[float] = None,
) -> None:
    """Atoms farther than ``r_max`` from each other have E_i = shift of their type and zero force.

    Checked for each type alone (a single-atom frame, no edges) and for all types together.
    ``shifts=None`` means no shift (E_i = 0).
    """
    tol = default_tolerance(model) if tol is None else tol
    names = list(type_names)

    def shift_of(name: str) -> float:
        if shifts is None:
            return 0.0
        return float(shifts[name]) if isinstance(shifts, Mapping) else float(shifts)

    frames = [_isolated_frame([t], r_max) for t in range(len(names))]
    frames.append(_isolated_frame(list(range(len(names))), r_max))
    for frame in frames:
        out = evaluate(model, frame)
        expected = torch.tensor([[shift_of(names[t])] for t in frame[keys.ATOM_TYPE_KEY].tolist()], dtype=torch.float64)
        label = "+".join(names[t] for t in frame[keys.ATOM_TYPE_KEY].tolist())
        assert_close(f"isolated {label}: per-atom energies vs shifts", out[keys.PER_ATOM_ENERGY_KEY], expected, tol)
        assert_close(f"isolated {label}: total energy", out[keys.TOTAL_ENERGY_KEY], expected.sum().view(1, 1), tol)
        if keys.FORCE_KEY in out:
            assert_close(
                f"isolated {label}: forces", out[keys.FORCE_KEY], torch.zeros_like(out[keys.FORCE_KEY]), tol, scale=1.0
            )


def check_cutoff_smoothness(
    model: Model,
    type_names: Sequence[str],
    r_max: float,
    pair: Optional[Sequence[str]] = None,
    tol: Optional[float] = None,
) -> None:
    """A dimer's interaction energy E(r) - E(inf) and its forces go continuously to 0 as r -> r_max.

    Samples r = r_max (1 - d) for d from 0.5 down to 1e-5 and beyond r_max: the values at
    d <= 1e-3 must be below ``tol`` times the largest interaction over the range (and a
    dtype-dependent floor), and beyond r_max they must vanish.
    """
    names = list(type_names)
    pair = list(pair) if pair is not None else [names[0], names[-1]]
    types = [names.index(p) for p in pair]
    floor = default_tolerance(model) if tol is None else tol
    tol = 1e-3 if tol is None else tol
    e_inf = _energy(model, _frame_of(types, [[0, 0, 0], [3 * r_max, 0, 0]], r_max))
    deltas = [0.5, 0.3, 0.2, 0.1, 0.05, 1e-2, 1e-3, 1e-4, 1e-5]
    energies, forces = [], []
    for d in deltas + [-1e-6, -1e-2]:
        r = r_max * (1 - d)
        # neighbor list beyond r_max: the model itself must switch the pair off
        out = evaluate(model, _frame_of(types, [[0, 0, 0], [r, 0, 0]], 1.1 * r_max))
        energies.append(float(out[keys.TOTAL_ENERGY_KEY].sum()) - e_inf)
        forces.append(float(out[keys.FORCE_KEY].abs().max()) if keys.FORCE_KEY in out else 0.0)
    e_scale, f_scale = max(abs(e) for e in energies), max(forces)
    for d, e, f in zip(deltas + [-1e-6, -1e-2], energies, forces):
        if d > 1e-3:
            continue
        e_bound = tol * e_scale + floor * (1 + abs(e_inf))
        f_bound = tol * f_scale + floor * (1 + f_scale)
        where = f"r = r_max * (1 - {d:g})"
        if not abs(e) <= e_bound:
            raise AssertionError(
                f"cutoff: interaction energy {e:.3e} at {where} is not ~0 (bound {e_bound:.3e}; "
                f"largest interaction {e_scale:.3e})"
            )
        if not f <= f_bound:
            raise AssertionError(
                f"cutoff: force {f:.3e} at {where} is not ~0 (bound {f_bound:.3e}; largest {f_scale:.3e})"
            )


def check_locality(model: Model, data: AtomicDataDict.Type, r_max: float, tol: Optional[float] = None) -> None:
    """Adding an atom farther than ``r_max`` from every atom of a non-periodic single frame
    leaves the other atoms' energies and forces unchanged."""
    tol = default_tolerance(model) if tol is None else tol
    if bool(data[keys.PBC_KEY].any()):
        raise ValueError("check_locality needs a non-periodic frame")
    pos = data[keys.POSITIONS_KEY]
    out = evaluate(model, data)
    far_point = pos.max(dim=0).values + 1.05 * r_max
    n = pos.shape[0]
    extended = {
        keys.POSITIONS_KEY: torch.cat([pos, far_point.view(1, 3)]),
        keys.ATOM_TYPE_KEY: torch.cat([data[keys.ATOM_TYPE_KEY], data[keys.ATOM_TYPE_KEY][:1]]),
        keys.CELL_KEY: data[keys.CELL_KEY],
        keys.PBC_KEY: data[keys.PBC_KEY],
        keys.BATCH_KEY: torch.zeros(n + 1, dtype=torch.long),
        keys.NUM_NODES_KEY: torch.tensor([n + 1]),
    }
    got = evaluate(model, with_neighbors(extended, r_max))
    for field in (keys.PER_ATOM_ENERGY_KEY, keys.FORCE_KEY):
        if field in out:
            assert_close(f"locality: {field} of the other atoms", got[field][:n], out[field], tol)
    lone = _isolated_frame([int(data[keys.ATOM_TYPE_KEY][0])], r_max)
    assert_close(
        "locality: energy of the far atom vs the same atom alone",
        got[keys.PER_ATOM_ENERGY_KEY][n:],
        evaluate(model, lone)[keys.PER_ATOM_ENERGY_KEY],
        tol,
    )
