"""``torch_default_dtype(dtype)``: torch's default dtype inside a ``with`` block, the caller's after."""

from nequip.nn.build_scope import default_dtype as torch_default_dtype

__all__ = ["torch_default_dtype"]
