"""nequip.model: NequIP model builders, and loading models from checkpoints.

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

from .builder import COMPILE_MODES, model_builder, model_from_config, override_model_compile_mode
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
from .nequip_gnn import NequIPGNNEnergyModel, NequIPGNNModel
from .nequip_gnn_presets import NEQUIP_GNN_PRESETS, PRESET_SHARED_DEFAULTS, PresetNequIPGNNModel
from .torch_compile import CompileGraphModel

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
