"""ASE calculator for NequIP models: checkpoints, exported models (``nequip-compile``) or models in memory.

Example:
    >>> import ase.build
    >>> from nequip.model import NequIPGNNModel
    >>> model = NequIPGNNModel(seed=0, model_dtype="float64", type_names=["H", "O"], r_max=3.0, num_layers=1,
    ...                        num_features=4, avg_num_neighbors=2.0, per_type_energy_scales=1.0,
    ...                        per_type_energy_shifts={"H": -0.5, "O": -2.0}).eval()
    >>> atoms = ase.build.molecule("H2O")
    >>> atoms.calc = NequIPCalculator(model)
    >>> atoms.get_forces().shape
    (3, 3)
"""

from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from nequip.data import AtomicDataDict, from_ase, keys
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
from nequip.model import cpu_memory


def default_transforms(
    type_names: Sequence[str],
    r_max: float,
    per_edge_type_cutoff: Optional[Dict[str, Dict[str, float]]] = None,
    chemical_species_to_atom_type_map: Optional[Dict[str, str]] = None,
) -> List[Callable]:
    """Type mapping (chemical species -> model types) and the neighbor list of a model.

    Args:
        type_names: the model's type names, in order.
        r_max: the model's cutoff radius.
        per_edge_type_cutoff: the model's per-edge-type cutoffs, if any.
        chemical_species_to_atom_type_map: chemical symbol -> type name; identity by default.

    Raises:
        ValueError: for a map with unknown symbols or type names, or type names that are
            not chemical symbols without a map.
    """
    return [
        ChemicalSpeciesToAtomTypeMapper(list(type_names), chemical_species_to_atom_type_map),
        NeighborListTransform(r_max, per_edge_type_cutoff=per_edge_type_cutoff, type_names=list(type_names)),
    ]


class NequIPCalculator(Calculator):
    """ASE calculator evaluating a NequIP model: energy, per-atom energies, forces and stress.

    Works for periodic, mixed-periodic and non-periodic ``Atoms``. Stress (ASE's Voigt
    order xx, yy, zz, yz, xz, xy and sign convention, eV/Å³) is given for cells of
    non-zero volume only; ``atoms.get_stress()`` on a molecule without a cell raises
    ``PropertyNotImplementedError``.

    Each step converts the ``Atoms`` with ``nequip.data.from_ase``, applies the transforms
    (type mapping and neighbor list, on the CPU), moves the frame to ``device`` and calls
    the model under ``torch.no_grad`` (forces and stress come from the model's own
    autograd or from the exported graph).

    Args:
        model: an eval-mode ``GraphModel``, or an ``ExportedModel`` from
            :func:`nequip.model.export.load_exported_model`; a ``torch.nn.Module`` is moved
            to ``device``.
        device: device the model runs on.
        transforms: callables applied in order to each frame's ``AtomicDataDict``; by
            default :func:`default_transforms` of the model (its type names, r_max and
            per-edge-type cutoffs, and ``chemical_species_to_atom_type_map``).
        energy_units_to_eV: the model's energy unit in eV.
        length_units_to_A: the model's length unit in Å. Positions and cell are divided by
            it before the model sees them (upstream NequIP converts only the outputs).
        chemical_species_to_atom_type_map: chemical symbol -> model type name (identity by
            default, also for ``True`` as upstream accepts); only with the default transforms.
        retain_freed_memory: on a CPU ``device``, call
            :func:`nequip.model.cpu_memory.retain_freed_memory`: the process keeps the memory
            PyTorch frees instead of returning it to the OS after every step (glibc only), so
            large systems stop page-faulting fresh buffers in each step. This setting is
            process-wide and permanent: the process then holds its peak memory until it exits.
            Default ``True``, since this calculator exists to run simulations, whose every
            step reaches the same peak; pass ``False`` in a process that must give memory
            back (e.g. one that evaluates a large structure once, then does other work).
        **kwargs: passed to ``ase.calculators.calculator.Calculator``.

    Raises:
        ValueError: for a model in training mode, an ``ExportedModel`` loaded on another
            device, non-positive unit factors, both ``transforms`` and
            ``chemical_species_to_atom_type_map``, or an invalid species map. During a
            calculation, ``Atoms`` with species the model has no type for raise a
            ``ValueError`` naming those species and the model's type names.
    """

    implemented_properties = ["energy", "energies", "free_energy", "forces", "stress"]

    def __init__(
        self,
        model: Union[torch.nn.Module, Callable],
        device: Union[str, torch.device] = "cpu",
        transforms: Optional[Sequence[Callable]] = None,
        energy_units_to_eV: float = 1.0,
        length_units_to_A: float = 1.0,
        chemical_species_to_atom_type_map: Optional[Dict[str, str]] = None,
        retain_freed_memory: bool = True,
        **kwargs,
    ):
        Calculator.__init__(self, **kwargs)
        device = torch.device(device)
        if getattr(model, "training", False):
            raise ValueError("model is in training mode; call model.eval() before building a NequIPCalculator")
        if isinstance(model, torch.nn.Module):
            model = model.to(device)
        elif getattr(model, "device", device) != device:
            raise ValueError(
                f"model was loaded on device {model.device}, but device={str(device)!r}; load it on {str(device)!r}"
            )
        for name, value in (("energy_units_to_eV", energy_units_to_eV), ("length_units_to_A", length_units_to_A)):
            if not float(value) > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if chemical_species_to_atom_type_map is True:
            chemical_species_to_atom_type_map = None  # upstream's way to ask for the identity
        self.type_names: List[str] = list(model.type_names)
        if transforms is None:
            transforms = default_transforms(
                self.type_names,
                model.r_max,
                getattr(model, "per_edge_type_cutoff", None),
                chemical_species_to_atom_type_map,
            )
        elif chemical_species_to_atom_type_map is not None:
            raise ValueError(
                "give transforms or chemical_species_to_atom_type_map, not both (the map only sets up the default transforms)"
            )
        if retain_freed_memory and device.type == "cpu":
            cpu_memory.retain_freed_memory()
        self.model = model
        self.device = device
        self.transforms = list(transforms)
        self.energy_units_to_eV = float(energy_units_to_eV)
        self.length_units_to_A = float(length_units_to_A)

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint_path: str,
        device: Union[str, torch.device] = "cpu",
        chemical_species_to_atom_type_map: Optional[Dict[str, str]] = None,
        compile_mode: str = "eager",
        retain_freed_memory: bool = True,
        **kwargs,
    ) -> "NequIPCalculator":
        """Calculator for the model of a checkpoint (nequip-train's ``.ckpt`` or ``save_model_checkpoint``'s file).

        The model is rebuilt with :func:`~nequip.model.ModelFromCheckpoint` (EMA weights when
        the checkpoint has them; the file is read with ``torch.load(weights_only=True)``),
        put in eval mode, and its weights stop requiring gradients (forces still come from
        autograd through the positions). Type names, r_max and per-edge-type cutoffs come
        from the model.

        Args:
            checkpoint_path: the checkpoint file.
            device: device the model runs on.
            chemical_species_to_atom_type_map: chemical symbol -> type name (identity by default).
            compile_mode: ``eager`` (default) or ``compile``: ``torch.compile`` in this process
                (see :class:`~nequip.model.CompileGraphModel`; the first step of each system
                size class compiles, later steps reuse the graph for any atom and edge count);
                ``nequip-compile`` exports ahead of time instead.
            retain_freed_memory: see :class:`NequIPCalculator` (default ``True``).
            **kwargs: other arguments of :class:`NequIPCalculator` (units, ASE's).
        """
        from nequip.model import ModelFromCheckpoint

        model = ModelFromCheckpoint(checkpoint_path, compile_mode=compile_mode).eval()
        for param in model.parameters():
            param.requires_grad_(False)
        return cls(
            model,
            device=device,
            chemical_species_to_atom_type_map=chemical_species_to_atom_type_map,
            retain_freed_memory=retain_freed_memory,
            **kwargs,
        )

    @classmethod
    def from_compiled_model(
        cls,
        compile_path: str,
        device: Union[str, torch.device] = "cpu",
        chemical_species_to_atom_type_map: Optional[Dict[str, str]] = None,
        retain_freed_memory: bool = True,
        **kwargs,
    ) -> "NequIPCalculator":
        """Calculator for a model file written by ``nequip-compile`` (see :mod:`nequip.model.export`).

        Args:
            compile_path: the ``.pt2`` file.
            device: device the model runs on (an AOTInductor file only on the device type
                it was compiled for).
            chemical_species_to_atom_type_map: chemical symbol -> type name (identity by default).
            retain_freed_memory: see :class:`NequIPCalculator` (default ``True``).
            **kwargs: other arguments of :class:`NequIPCalculator` (units, ASE's).
        """
        from nequip.model.export import load_exported_model

        model = load_exported_model(compile_path, device)
        return cls(
            model,
            device=device,
            chemical_species_to_atom_type_map=chemical_species_to_atom_type_map,
            retain_freed_memory=retain_freed_memory,
            **kwargs,
        )

    def atoms_to_data(self, atoms: Atoms) -> AtomicDataDict.Type:
        """The model input for ``atoms``: converted, in model length units, transformed, on the device."""
        data = from_ase(atoms)
        if self.length_units_to_A != 1.0:
            data[keys.POSITIONS_KEY] = data[keys.POSITIONS_KEY] / self.length_units_to_A
            data[keys.CELL_KEY] = data[keys.CELL_KEY] / self.length_units_to_A
        for transform in self.transforms:
            if isinstance(transform, ChemicalSpeciesToAtomTypeMapper):
                try:
                    data = transform(data)
                except ValueError as err:  # unmapped species: say which types the model has
                    raise ValueError(f"{err}; the model's type_names are {self.type_names}") from err
            else:
                data = transform(data)
        return AtomicDataDict.to_(data, self.device) if self.device.type != "cpu" else data

    def calculate(
        self, atoms: Optional[Atoms] = None, properties: Sequence[str] = ("energy",), system_changes=all_changes
    ) -> None:
        """Evaluate the model on ``atoms`` and fill ``self.results`` (ASE units: eV, Å)."""
        Calculator.calculate(self, atoms, properties, system_changes)
        data = self.atoms_to_data(self.atoms)
        with torch.no_grad():
            out = self.model(data)
        energy_scale = self.energy_units_to_eV
        results = {}
        if keys.TOTAL_ENERGY_KEY in out:
            results["energy"] = energy_scale * float(out[keys.TOTAL_ENERGY_KEY].detach().reshape(()))
            results["free_energy"] = results["energy"]
        if keys.PER_ATOM_ENERGY_KEY in out:
            results["energies"] = energy_scale * out[keys.PER_ATOM_ENERGY_KEY].detach().reshape(-1).cpu().numpy()
        if keys.FORCE_KEY in out:
            results["forces"] = (energy_scale / self.length_units_to_A) * out[keys.FORCE_KEY].detach().cpu().numpy()
        if keys.STRESS_KEY in out:
            stress = out[keys.STRESS_KEY].detach().reshape(3, 3).cpu().numpy()
            if np.isfinite(stress).all():  # NaN for cells of zero volume (molecules)
                results["stress"] = full_3x3_to_voigt_6_stress(stress * (energy_scale / self.length_units_to_A**3))
        self.results = results
