"""nequip.model: NequIP model builders, loading models from checkpoints and packages, and modifying them.

A config's ``model:`` section names a builder and its hyperparameters::

    model:
      _target_: nequip.model.NequIPGNNModel
      seed: 123
      model_dtype: float32
      type_names: [C, H, O]
      r_max: 5.0
      avg_num_neighbors: ${training_data_stats:num_neighbors_mean}
      per_type_energy_scales: ${training_data_stats:per_type_forces_rms}
      per_type_energy_shifts: {C: -1.2, H: -0.3, O: -2.1}
"""

from nequip.nn.build_scope import MODEL_DTYPES

from .builder import COMPILE_MODES, model_builder, override_model_compile_mode
from .checkpoint import (
    CHECKPOINT_FORMAT_VERSION,
    CHECKPOINT_KEY,
    ModelFromCheckpoint,
    model_checkpoint_payload,
    read_model_checkpoint,
    save_model_checkpoint,
)
from .export import EXPORT_MODES, ExportedModel, export_model, load_exported_model
from .full_model import FullNequIPGNNModel
from .modifiers import modify
from .nequip_gnn import NequIPGNNEnergyModel, NequIPGNNModel
from .nequip_gnn_presets import NEQUIP_GNN_PRESETS, PRESET_SHARED_DEFAULTS, PresetNequIPGNNModel
from .package import (
    PACKAGE_FORMAT_VERSION,
    ModelFromPackage,
    ModelTypeNamesFromPackage,
    cutoff_radius_from_package,
    read_package_metadata,
    save_package,
    type_names_from_package,
)
from .param_groups import MuonParamGroups
from .sources import MODEL_LOADERS, model_from_config
from .torch_compile import CompileGraphModel
from .zbl_pair_potential import ZBLPairPotential

__all__ = [
    "model_builder",
    "model_from_config",
    "override_model_compile_mode",
    "MODEL_DTYPES",
    "COMPILE_MODES",
    "NequIPGNNModel",
    "NequIPGNNEnergyModel",
    "FullNequIPGNNModel",
    "PresetNequIPGNNModel",
    "NEQUIP_GNN_PRESETS",
    "PRESET_SHARED_DEFAULTS",
    "CompileGraphModel",
    "ModelFromCheckpoint",
    "ModelFromPackage",
    "ModelTypeNamesFromPackage",
    "type_names_from_package",
    "cutoff_radius_from_package",
    "save_package",
    "read_package_metadata",
    "PACKAGE_FORMAT_VERSION",
    "MODEL_LOADERS",
    "modify",
    "ZBLPairPotential",
    "MuonParamGroups",
    "CHECKPOINT_KEY",
    "CHECKPOINT_FORMAT_VERSION",
    "model_checkpoint_payload",
    "save_model_checkpoint",
    "read_model_checkpoint",
    "EXPORT_MODES",
    "export_model",
    "load_exported_model",
    "ExportedModel",
]
