"""Names of the fields of an ``AtomicDataDict``: the only place field-name strings are written.

Every other module refers to a field through these constants. Shapes use ``N`` for the
number of atoms, ``E`` for the number of edges and ``B`` for the number of frames in a
batch; units are those of the data (e.g. eV and Å).
"""

from typing import Final

# === geometry and graph ===
POSITIONS_KEY: Final[str] = "pos"  #: (N, 3) float64, length
CELL_KEY: Final[str] = "cell"  #: (B, 3, 3) float64, length; rows are the lattice vectors
PBC_KEY: Final[str] = "pbc"  #: (B, 3) bool, periodicity along each lattice vector
ATOMIC_NUMBERS_KEY: Final[str] = "atomic_numbers"  #: (N,) int64, atomic numbers Z
ATOM_TYPE_KEY: Final[str] = "atom_types"  #: (N,) int64, index into the model's type_names
EDGE_INDEX_KEY: Final[str] = "edge_index"  #: (2, E) int64; row 0 center i, row 1 neighbor j
EDGE_CELL_SHIFT_KEY: Final[str] = "edge_cell_shift"  #: (E, 3) float64, integer image shifts S
BATCH_KEY: Final[str] = "batch"  #: (N,) int64, frame index of each atom
NUM_NODES_KEY: Final[str] = "num_atoms"  #: (B,) int64, number of atoms of each frame
FRAME_INDEX_KEY: Final[str] = "frame_index"  #: (B,) int64, index of the frame in its dataset
DATASET_KEY: Final[str] = "dataset"  #: (B, 1) int64, which data set a frame comes from (``DatasetIndexTransform``)
#: (E,) int64, the edges' order sorted by (neighbor j, center i): a permutation of the edge list
EDGE_TRANSPOSE_PERM_KEY: Final[str] = "edge_transpose_perm"

# === derived edge and node quantities (written by models) ===
EDGE_VECTORS_KEY: Final[str] = "edge_vectors"  #: (E, 3), r_ij = pos[j] - pos[i] + S @ cell
EDGE_LENGTH_KEY: Final[str] = "edge_lengths"  #: (E,), ``|r_ij|``, length
NORM_LENGTH_KEY: Final[str] = "normed_edge_lengths"  #: (E,), ``|r_ij| / r_max`` of the edge
EDGE_TYPE_KEY: Final[str] = "edge_type_flat"  #: (E,) int64, t_i * num_types + t_j
EDGE_CUTOFF_KEY: Final[str] = "edge_cutoff"  #: (E, 1), smooth cutoff envelope value
EDGE_ATTRS_KEY: Final[str] = "edge_attrs"  #: (E, irreps), spherical harmonics of r_ij
EDGE_EMBEDDING_KEY: Final[str] = "edge_embedding"  #: (E, num_basis), radial basis of ``|r_ij|``
EDGE_FEATURES_KEY: Final[str] = "edge_features"  #: (E, irreps), learned edge features
EDGE_ENERGY_KEY: Final[str] = "edge_energy"  #: (E, 1), energy of each edge (edge-based models, e.g. Allegro)
NODE_ATTRS_KEY: Final[str] = "node_attrs"  #: (N, irreps), fixed node attributes (type one-hot)
NODE_FEATURES_KEY: Final[str] = "node_features"  #: (N, irreps), learned node features

# === energies, forces and stress ===
TOTAL_ENERGY_KEY: Final[str] = "total_energy"  #: (B, 1) float64, energy
PER_ATOM_ENERGY_KEY: Final[str] = "atomic_energy"  #: (N, 1) float64, energy
FREE_ENERGY_KEY: Final[str] = "free_energy"  #: (B, 1) float64, energy
FORCE_KEY: Final[str] = "forces"  #: (N, 3) float64, energy/length; -dE/dr
STRESS_KEY: Final[str] = "stress"  #: (B, 3, 3) float64, energy/length^3; (1/V) dE/d(strain)
VIRIAL_KEY: Final[str] = "virial"  #: (B, 3, 3) float64, energy; -dE/d(strain)
PER_ATOM_STRESS_KEY: Final[str] = "stresses"  #: (N, 3, 3) float64, energy/length^3
PARTIAL_FORCE_KEY: Final[str] = "partial_forces"  #: (N, N, 3) float64, energy/length; -dE_i/dr_j

# === other common per-frame and per-atom labels ===
TOTAL_MAGMOM_KEY: Final[str] = "magmom"  #: (B, 1), total magnetic moment
MAGMOM_KEY: Final[str] = "magmoms"  #: (N, 1), per-atom magnetic moments
CHARGE_KEY: Final[str] = "charges"  #: (N, 1), per-atom partial charges, elementary charge
TOTAL_CHARGE_KEY: Final[str] = "charge"  #: (B, 1), total charge, elementary charge
TOTAL_SPIN_KEY: Final[str] = "spin"  #: (B, 1), total spin multiplicity
DIPOLE_KEY: Final[str] = "dipole"  #: (B, 3), dipole moment, charge*length

# Short names used in automatic statistic names (``F_rms`` for the RMS of ``forces``),
# those of upstream NequIP; other fields are named in full (``stress_rms``).
ABBREV: Final[dict] = {
    TOTAL_ENERGY_KEY: "E",
    PER_ATOM_ENERGY_KEY: "Ei",
    FORCE_KEY: "F",
    TOTAL_MAGMOM_KEY: "M",
    CHARGE_KEY: "Q",
}
