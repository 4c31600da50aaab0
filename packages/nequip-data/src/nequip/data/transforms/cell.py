"""A cell for non-periodic frames that have none."""

import torch

from .. import AtomicDataDict, keys


class NonPeriodicCellTransform(torch.nn.Module):
    """Give non-periodic frames an orthorhombic cell that holds all their atoms, with padding.

    Applies to frames whose ``pbc`` is false in every direction and whose cell is missing
    or zero (``from_ase`` writes a zero cell for a molecule); other frames are left as they
    are. Each such frame is translated so that its atoms' smallest coordinates are
    ``padding``, and gets the cell ``diag(extent + 2 * padding)``, where ``extent`` is the
    size of the atoms' bounding box. Energies, forces and a neighbor list computed before
    stay valid: no direction is periodic, so every edge has a zero shift and its vector
    does not depend on the translation or the cell. The cell is for codes that need one.

    Args:
        padding: space between the atoms and the cell's faces, in the data's length unit.
        override_cell: also replace a nonzero cell of a non-periodic frame.
    """

    def __init__(self, padding: float = 10.0, override_cell: bool = False):
        super().__init__()
        if not float(padding) >= 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.padding = float(padding)
        self.override_cell = bool(override_cell)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        if keys.PBC_KEY not in data:
            return data
        data = AtomicDataDict.with_batch_(data)
        num_frames = AtomicDataDict.num_frames(data)
        pbc = data[keys.PBC_KEY].reshape(num_frames, 3)
        pos = data[keys.POSITIONS_KEY]
        cell = data.get(keys.CELL_KEY)
        cell = torch.zeros(num_frames, 3, 3, dtype=pos.dtype, device=pos.device) if cell is None else cell
        cell = cell.reshape(num_frames, 3, 3)
        without_cell = (cell == 0).flatten(1).all(dim=1) | torch.tensor(self.override_cell, device=cell.device)
        change = ~pbc.any(dim=1) & without_cell
        if not bool(change.any()):
            return data
        new_pos, new_cell = pos.clone(), cell.clone()
        batch = data[keys.BATCH_KEY]
        for frame in torch.nonzero(change).flatten().tolist():
            atoms = batch == frame
            if not bool(atoms.any()):
                new_cell[frame] = torch.diag(torch.full((3,), 2 * self.padding, dtype=cell.dtype, device=cell.device))
                continue
            low, high = pos[atoms].amin(dim=0), pos[atoms].amax(dim=0)
            new_pos[atoms] = pos[atoms] - low + self.padding
            new_cell[frame] = torch.diag(high - low + 2 * self.padding).to(cell.dtype)
        data[keys.POSITIONS_KEY] = new_pos
        data[keys.CELL_KEY] = new_cell
        return data
