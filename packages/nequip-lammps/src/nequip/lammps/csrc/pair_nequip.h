// pair_style nequip: a NequIP model compiled with `nequip-compile --target lammps` (an AOTInductor
// package), evaluated on a graph of atoms and edges with explicit edge vectors.
//
// One MPI rank: the graph's atoms are the local atoms; every ghost atom is a periodic image of
// one of them and its edges are attached to that original (by atom ID), keeping the image's
// vector: the periodic graph of the whole system.
//
// Several ranks: the graph's atoms are the local atoms and the ghost atoms up to
// num_layers * r_max away (explicit images, own positions), with the full neighbor list of all
// of them, less the edges into ghosts more than num_layers - 1 hops from every local atom (their
// messages cannot reach a local atom in time), and less the ghosts that no remaining edge
// touches. The model returns the energy of the local atoms, E = sum of E_i over local i, and
// F = -dE/dx for every atom it saw; forces on ghost atoms go back to their owners by LAMMPS's
// reverse communication (newton pair on), so each rank adds exactly the forces its own energy
// causes.
#ifndef LMP_PAIR_NEQUIP_H
#define LMP_PAIR_NEQUIP_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pair.h"

namespace torch::inductor {
class AOTIModelPackageLoader;
}

namespace LAMMPS_NS {

class PairNequIP : public Pair {
 public:
  PairNequIP(class LAMMPS *);
  ~PairNequIP() override;
  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;

 private:
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> model;
  std::string model_path;
  std::vector<std::string> model_type_names;
  std::vector<int> model_type_of;    // LAMMPS atom type (1..ntypes) -> model type index
  std::vector<double> cutoff_sq;     // [model type of center * num model types + model type of neighbor]
  double r_max = 0.0;
  int num_layers = 0;
  int cpu_threads = 0;               // thread count of the package's kernels, 0 if not recorded
  std::string model_units;
  double energy_factor = 1.0;        // model energy unit -> LAMMPS energy unit

  void allocate();
  void load_model(const std::string &path);
  double pair_cutoff(int itype, int jtype) const;
  void drop_edges_beyond_reach(int nlocal, int nall, std::vector<int64_t> &first, std::vector<int64_t> &second,
                               std::vector<double> &vectors, std::vector<int64_t> &one_way_center,
                               std::vector<int64_t> &one_way_neighbor, std::vector<double> &one_way_vectors) const;
  int keep_connected_nodes(int nlocal, int nall, std::vector<int64_t> &first, std::vector<int64_t> &second,
                           std::vector<int64_t> &one_way_center, std::vector<int64_t> &one_way_neighbor,
                           std::vector<int> &atom_of) const;
};

}    // namespace LAMMPS_NS

#endif
