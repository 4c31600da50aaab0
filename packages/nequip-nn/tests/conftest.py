"""Test settings for nequip-nn.

The tests run many tiny tensor operations; on a machine whose cores are shared, torch's
intra-op thread pool then spends more time waiting for a busy core than computing (tests
took 10x longer with 2 threads on a loaded 2-core machine), so the tests use one thread.
"""

import torch

torch.set_num_threads(1)
