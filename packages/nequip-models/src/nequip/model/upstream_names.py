"""How upstream NequIP 0.19's state-dict names map onto ours: plain constants, no imports.

Kept free of imports so that tools running under upstream NequIP's own Python (the
benchmarks of ``tools/``) read the same table with ``runpy.run_path`` without importing this
workspace. :mod:`nequip.model.upstream_checkpoint` uses it to convert upstream checkpoints.
"""

#: ``(upstream fragment, ours)`` substitutions in parameter and buffer names (submodules renamed here).
UPSTREAM_RENAMES = ((".embed_module.", ".embedding."), (".mlp_module.", ".mlp."))

#: Name endings of upstream buffers that our modules do not store (each is recomputed from the
#: model config when the model is built): the GraphModel placeholder, the cutoff's reciprocal,
#: and the empty weights and output mask of the convolution's e3nn tensor product.
UPSTREAM_DERIVED_BUFFERS = ("._empty", ".edge_norm._rmax_recip", ".tp_scatter.tp.weight", ".tp_scatter.tp.output_mask")


def our_name(upstream_name: str) -> str:
    """Our state-dict name of an upstream one (after the prefix of the Lightning module is removed)."""
    for theirs, ours in UPSTREAM_RENAMES:
        upstream_name = upstream_name.replace(theirs, ours)
    return upstream_name
