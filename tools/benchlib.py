"""Helpers shared by the benchmark scripts of tools/ (imported as ``benchlib``).

Run the scripts from the repository root as ``python tools/SCRIPT.py``: Python puts the
script's folder, tools/, first on ``sys.path``, so ``import benchlib`` works in the script
and in the worker processes it starts the same way (ours and upstream NequIP's Python).
Nothing here imports nequip at module level: the same file serves both installations.
"""

import resource
import runpy
from pathlib import Path

#: The benchmark model: upstream NequIP's tutorial hyperparameters on Cu/Au.
TYPE_NAMES = ["Cu", "Au"]
R_MAX = 5.0
ARCHITECTURE = dict(
    r_max=R_MAX,
    num_bessels=8,
    bessel_trainable=False,
    polynomial_cutoff_p=6,
    num_layers=4,
    l_max=1,
    parity=True,
    num_features=32,
    radial_mlp_depth=2,
    radial_mlp_width=64,
)

#: upstream parameter name fragments -> ours: nequip-models' table (nequip.model.upstream_names), read without
#: importing nequip, since this runs in upstream NequIP's Python too
UPSTREAM_RENAMES = runpy.run_path(
    str(Path(__file__).resolve().parents[1] / "packages/nequip-models/src/nequip/model/upstream_names.py")
)["UPSTREAM_RENAMES"]


def peak_rss_mb() -> float:
    """This process's peak resident set size (``ru_maxrss``) in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_our_weights(model, path: str) -> None:
    """Copy our parameters (saved by the 'ours' check worker) into the upstream model."""
    import torch

    ours = torch.load(path, weights_only=True)
    params = dict(model.named_parameters())
    mapped = set()
    with torch.no_grad():
        for name, param in params.items():
            if param.numel() == 0:
                continue
            our_name = name
            for theirs, mine in UPSTREAM_RENAMES:
                our_name = our_name.replace(theirs, mine)
            value = ours[our_name]
            if value.numel() != param.numel():
                raise ValueError(f"{name}: upstream has {tuple(param.shape)}, ours {tuple(value.shape)}")
            param.copy_(value.reshape(param.shape))
            mapped.add(our_name)
    unmapped = sorted(set(ours) - mapped)
    if unmapped:
        raise ValueError(f"our parameters without an upstream counterpart: {unmapped}")
