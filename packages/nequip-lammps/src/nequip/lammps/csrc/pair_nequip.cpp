// pair_style nequip (see pair_nequip.h).
//
// The exported graph (nequip.lammps.export) takes, in this order:
//   edge_vectors (E, 3) float64, edge_index (2, E) int64, atom_types (N,) int64, num_local (1,) int64
// and returns, in the order of its metadata's output_fields:
//   total_energy (1, 1), atomic_energy (N, 1), edge_energy_gradient (E, 3): g_e = dE/dr_ij
// all float64, in the model's units. From the edge gradients this file sums what LAMMPS asks for:
// forces (g_e on the center i, -g_e on the neighbor j), the virial -sum_e r_ij (x) g_e
// (symmetrized) and the per-atom virial (each edge's term split half and half between its atoms).
//
// Graph nodes: on one MPI rank, the local atoms only; a ghost atom (a periodic image) stands for
// its local original, found by atom ID, and its edges keep the image's vector: the periodic graph
// of the whole system, no ghost is a node. On several ranks, the local and ghost atoms, ghosts
// num_layers * r_max deep; forces on ghosts go back to their owners.

// torch first: LAMMPS headers define short macros
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>

#include "pair_nequip.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "json.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <cmath>
#include <cstring>
#include <fstream>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

using namespace LAMMPS_NS;

namespace {

// the metadata of every nequip-compile file; its "target" tells the files of the targets apart
const char *const METADATA_KEY = "nequip_metadata.json";
const char *const TARGET = "lammps";
const char *const FORMAT = "nequip-lammps-model";
const int FORMAT_VERSION = 2;
const std::vector<std::string> INPUT_FIELDS = {"edge_vectors", "edge_index", "atom_types", "num_local"};
const std::vector<std::string> OUTPUT_FIELDS = {"total_energy", "atomic_energy", "edge_energy_gradient"};
// 1 eV in kcal/mol (CODATA 2018: e * N_A / 4184 J)
const double EV_IN_KCAL_PER_MOL = 23.060547830619026;
// two padding atoms joined by one pair of edges: the graph never has fewer than 2 atoms or 2 edges
const int NUM_PADDING_ATOMS = 2;

std::string join(const std::vector<std::string> &words)
{
  std::string out = "[";
  for (size_t i = 0; i < words.size(); i++) out += (i ? ", " : "") + words[i];
  return out + "]";
}

std::string first_line(const std::string &text)
{
  return text.substr(0, text.find('\n'));
}

// energy of one model unit in LAMMPS units; 0 if the two cannot be converted
double energy_conversion(const std::string &model_units, const std::string &lammps_units)
{
  if (model_units == lammps_units) return 1.0;
  if (model_units == "metal" && lammps_units == "real") return EV_IN_KCAL_PER_MOL;
  if (model_units == "real" && lammps_units == "metal") return 1.0 / EV_IN_KCAL_PER_MOL;
  return 0.0;
}

// Make glibc keep the memory the model frees inside the process. Every step allocates and frees
// the same large per-edge buffers; with glibc's defaults they come from fresh mmap pages that go
// back to the kernel when freed, so every step page-faults them in again and the kernel zeroes
// every page, a large share of the step for a thousand atoms or more. With large blocks served
// from the heap and the heap never trimmed, the process keeps its peak memory and the page faults
// stop after the first step. Process-wide; the ASE calculator does the same
// (nequip.model.cpu_memory). Returns whether the settings are in effect.
bool retain_freed_memory()
{
#if defined(__GLIBC__)
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;    // -1: SIZE_MAX, never trim
#else
  return false;
#endif
}

}    // namespace

PairNequIP::PairNequIP(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  // several ranks: ghost atoms are graph nodes and need neighbor lists too
  ghostneigh = comm->nprocs > 1 ? 1 : 0;
  no_virial_fdotr_compute = 1;     // the model returns the virial
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairNequIP::~PairNequIP()
{
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
    memory->destroy(cutghost);
  }
}

void PairNequIP::allocate()
{
  allocated = 1;
  int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  memory->create(cutghost, n, n, "pair:cutghost");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) setflag[i][j] = 0;
}

void PairNequIP::settings(int narg, char **arg)
{
  if (narg != 0)
    error->all(FLERR, "pair_style nequip takes no arguments, got {} (first: '{}'); the model file goes to pair_coeff",
               narg, arg[0]);
}

void PairNequIP::load_model(const std::string &path)
{
  const std::string how = "write one with `nequip-compile --mode aotinductor --target lammps --units metal|real "
                          "CHECKPOINT " + path + "`";
  if (!std::ifstream(path).good()) error->all(FLERR, "pair_coeff * * {}: cannot read this file", path);
  try {
    model = std::make_unique<torch::inductor::AOTIModelPackageLoader>(path);
  } catch (const std::exception &err) {
    if (std::string(err.what()).find("nequip_kernels") != std::string::npos)
      error->all(FLERR, "pair_coeff * * {}: the model calls the fused convolution of nequip-kernels ({}), which this "
                 "plugin was built without: install nequip-kernels beside nequip-lammps and build the plugin again "
                 "(nequip-lammps-plugin build --force)", path, first_line(err.what()));
    error->all(FLERR, "pair_coeff * * {}: not a nequip LAMMPS model: it does not load as an AOTInductor package ({}); {}",
               path, first_line(err.what()), how);
  }
  auto metadata = model->get_metadata();
  if (metadata.count(METADATA_KEY) == 0)
    error->all(FLERR, "pair_coeff * * {}: an AOTInductor package without nequip metadata; {}", path, how);
  json md;
  try {
    md = json::parse(metadata[METADATA_KEY]);
    // files of nequip-compile before targets were recorded are ASE files
    const std::string target = md.contains("target") ? md.at("target").get<std::string>() : "ase";
    if (target != TARGET)
      error->all(FLERR, "pair_coeff * * {}: compiled by nequip-compile for target '{}'; pair_style nequip reads "
                 "target '{}' files only; {}", path, target, TARGET, how);
    if (md.at("format").get<std::string>() != FORMAT || md.at("format_version").get<int>() != FORMAT_VERSION)
      error->all(FLERR, "pair_coeff * * {}: model format '{}' version {}; this plugin reads '{}' version {}; {}",
                 path, md.at("format").get<std::string>(), md.at("format_version").get<int>(), FORMAT,
                 FORMAT_VERSION, how);
    if (md.at("device").get<std::string>() != "cpu")
      error->all(FLERR, "pair_coeff * * {}: the package is compiled for device '{}'; this pair style runs 'cpu' packages "
                 "(export with --device cpu)", path, md.at("device").get<std::string>());
    if (md.at("input_fields").get<std::vector<std::string>>() != INPUT_FIELDS ||
        md.at("output_fields").get<std::vector<std::string>>() != OUTPUT_FIELDS)
      error->all(FLERR, "pair_coeff * * {}: the graph's inputs {} and outputs {} are not the ones this plugin passes "
                 "({}) and reads ({})", path, md.at("input_fields").dump(), md.at("output_fields").dump(),
                 join(INPUT_FIELDS), join(OUTPUT_FIELDS));
    model_type_names = md.at("type_names").get<std::vector<std::string>>();
    r_max = md.at("r_max").get<double>();
    num_layers = md.at("num_layers").get<int>();
    model_units = md.at("units").get<std::string>();
    cpu_threads = md.at("cpu_threads").is_null() ? 0 : md.at("cpu_threads").get<int>();
    const size_t ntypes = model_type_names.size();
    cutoff_sq.assign(ntypes * ntypes, r_max * r_max);
    const json &per_edge_type = md.at("per_edge_type_cutoff");
    if (!per_edge_type.is_null())
      for (size_t a = 0; a < ntypes; a++)
        for (size_t b = 0; b < ntypes; b++) {
          double cut = per_edge_type.at(model_type_names[a]).at(model_type_names[b]).get<double>();
          cutoff_sq[a * ntypes + b] = cut * cut;
        }
  } catch (const json::exception &err) {
    error->all(FLERR, "pair_coeff * * {}: unreadable nequip metadata ({}); {}", path, err.what(), how);
  }
  model_path = path;
}

void PairNequIP::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg < 3)
    error->all(FLERR, "pair_coeff for pair_style nequip: expected `pair_coeff * * MODEL_FILE` and {} type name(s), "
               "got {} argument(s)", ntypes, narg);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for pair_style nequip must start with '* *' (one call maps every atom type), got "
               "'{} {}'", arg[0], arg[1]);
  load_model(arg[2]);
  const int given = narg - 3;
  if (given != ntypes)
    error->all(FLERR, "pair_coeff * * {}: got {} type name(s) for {} LAMMPS atom type(s); give one model type name "
               "per LAMMPS atom type, from the model's type names {}", model_path, given, ntypes,
               join(model_type_names));
  model_type_of.assign(ntypes + 1, -1);
  for (int i = 1; i <= ntypes; i++) {
    const std::string name = arg[2 + i];
    for (size_t t = 0; t < model_type_names.size(); t++)
      if (model_type_names[t] == name) model_type_of[i] = (int) t;
    if (model_type_of[i] < 0)
      error->all(FLERR, "pair_coeff * * {}: type name '{}' (for LAMMPS atom type {}) is not a type of this model; "
                 "allowed are {}", model_path, name, i, join(model_type_names));
  }
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) setflag[i][j] = 1;
}

void PairNequIP::init_style()
{
  if (force->newton_pair == 0)
    error->all(FLERR, "pair_style nequip requires newton pair on (forces on ghost atoms go back to their owners)");
  energy_factor = energy_conversion(model_units, update->unit_style);
  if (energy_factor == 0.0)
    error->all(FLERR, "pair_style nequip: the model {} is in units '{}' but LAMMPS runs with units '{}'; allowed "
               "are the model's units, and metal and real (converted into each other)", model_path, model_units,
               update->unit_style);
  if (comm->mode != Comm::SINGLE)
    error->all(FLERR, "pair_style nequip needs comm_modify mode single (it sets the ghost cutoff)");

  if (comm->nprocs == 1) {
    if (atom->tag_enable == 0) error->all(FLERR, "pair_style nequip needs atom IDs (atom_modify id yes)");
    neighbor->add_request(this, NeighConst::REQ_FULL);
  } else {
    // message passing over num_layers layers: a local atom's energy depends on atoms up to
    // num_layers * r_max away, which must all be present as local or ghost atoms
    const double ghost_cutoff = num_layers * r_max + neighbor->skin;
    if (comm->cutghostuser < ghost_cutoff) {
      comm->cutghostuser = ghost_cutoff;
      if (comm->me == 0)
        utils::logmesg(lmp, "pair_style nequip: ghost atoms up to {} = num_layers {} x r_max {} + skin {}\n",
                       ghost_cutoff, num_layers, r_max, neighbor->skin);
    }
    neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_GHOST);
  }

  const bool retained = retain_freed_memory();
  if (comm->me == 0)
    utils::logmesg(lmp, "pair_style nequip: freed memory {} kept in the process (glibc mallopt)\n",
                   retained ? "is" : "is not (not glibc)");

  // torch's intra-op threads: LAMMPS's OpenMP threads per rank (OMP_NUM_THREADS, -sf omp, package omp N)
  at::set_num_threads(comm->nthreads);
  if (comm->me == 0)
    utils::logmesg(lmp, "pair_style nequip: {} torch thread(s) per MPI rank\n", at::get_num_threads());
  if (cpu_threads > 0 && cpu_threads != comm->nthreads && comm->me == 0)
    error->warning(FLERR, "pair_style nequip: {} was compiled for {} CPU thread(s) but LAMMPS runs {} per MPI rank; "
                   "it runs slower than it can (set OMP_NUM_THREADS={} or export with --cpu-threads {})", model_path,
                   cpu_threads, comm->nthreads, cpu_threads, comm->nthreads);
}

double PairNequIP::pair_cutoff(int itype, int jtype) const
{
  const size_t ntypes = model_type_names.size();
  const int a = model_type_of[itype], b = model_type_of[jtype];
  return std::sqrt(std::max(cutoff_sq[a * ntypes + b], cutoff_sq[b * ntypes + a]));
}

double PairNequIP::init_one(int i, int j)
{
  if (setflag[i][j] == 0) error->all(FLERR, "pair_style nequip: no pair_coeff for atom types {} {}", i, j);
  const double cut = pair_cutoff(i, j);
  cutghost[i][j] = cutghost[j][i] = cut;
  return cut;
}

// Several ranks: a ghost more than num_layers - 1 hops from every local atom (along the edges, in
// the direction messages flow, center <- neighbor) cannot pass a message that reaches a local
// atom within the remaining layers, so the edges into it are not needed. Pairs of which neither
// atom is within num_layers - 1 hops are dropped (both directions, keeping the pair order), and
// one-way edges whose center is not.
void PairNequIP::drop_edges_beyond_reach(int nlocal, int nall, std::vector<int64_t> &first,
                                         std::vector<int64_t> &second, std::vector<double> &vectors,
                                         std::vector<int64_t> &one_way_center,
                                         std::vector<int64_t> &one_way_neighbor,
                                         std::vector<double> &one_way_vectors) const
{
  // incoming messages: CSR lists of the neighbors each center receives from
  std::vector<int64_t> count(nall + 1, 0);
  for (size_t e = 0; e < first.size(); e++) {
    count[first[e] + 1]++;
    count[second[e] + 1]++;
  }
  for (size_t e = 0; e < one_way_center.size(); e++) count[one_way_center[e] + 1]++;
  for (int i = 0; i < nall; i++) count[i + 1] += count[i];
  std::vector<int64_t> fill(count.begin(), count.end() - 1), sources(count[nall]);
  for (size_t e = 0; e < first.size(); e++) {
    sources[fill[first[e]]++] = second[e];
    sources[fill[second[e]]++] = first[e];
  }
  for (size_t e = 0; e < one_way_center.size(); e++) sources[fill[one_way_center[e]]++] = one_way_neighbor[e];

  const int unreached = num_layers + 1;
  std::vector<int> hops(nall, unreached);
  std::vector<int> frontier;
  for (int i = 0; i < nlocal; i++) {
    hops[i] = 0;
    frontier.push_back(i);
  }
  for (int hop = 1; hop < num_layers && !frontier.empty(); hop++) {
    std::vector<int> next;
    for (int i : frontier)
      for (int64_t k = count[i]; k < count[i + 1]; k++)
        if (hops[sources[k]] == unreached) {
          hops[sources[k]] = hop;
          next.push_back((int) sources[k]);
        }
    frontier.swap(next);
  }
  const int last = num_layers - 1;    // centers whose messages still matter
  size_t kept = 0;
  for (size_t e = 0; e < first.size(); e++) {
    if (hops[first[e]] > last && hops[second[e]] > last) continue;
    first[kept] = first[e];
    second[kept] = second[e];
    for (int k = 0; k < 3; k++) vectors[3 * kept + k] = vectors[3 * e + k];
    kept++;
  }
  first.resize(kept);
  second.resize(kept);
  vectors.resize(3 * kept);
  kept = 0;
  for (size_t e = 0; e < one_way_center.size(); e++) {
    if (hops[one_way_center[e]] > last) continue;
    one_way_center[kept] = one_way_center[e];
    one_way_neighbor[kept] = one_way_neighbor[e];
    for (int k = 0; k < 3; k++) one_way_vectors[3 * kept + k] = one_way_vectors[3 * e + k];
    kept++;
  }
  one_way_center.resize(kept);
  one_way_neighbor.resize(kept);
  one_way_vectors.resize(3 * kept);
}

// Several ranks: the graph's nodes are the local atoms and the ghosts that some kept edge
// touches; the other ghosts (beyond reach once their edges are dropped) would only add
// node-wise work. Renumbers the edges to the kept nodes (local atoms keep their indices, ghosts
// follow in LAMMPS's order), fills atom_of (node -> LAMMPS atom) and returns the node count.
int PairNequIP::keep_connected_nodes(int nlocal, int nall, std::vector<int64_t> &first, std::vector<int64_t> &second,
                                     std::vector<int64_t> &one_way_center, std::vector<int64_t> &one_way_neighbor,
                                     std::vector<int> &atom_of) const
{
  std::vector<int64_t> node_of(nall, -1);
  for (int i = 0; i < nlocal; i++) node_of[i] = 0;
  for (auto *edges : {&first, &second, &one_way_center, &one_way_neighbor})
    for (int64_t atom : *edges) node_of[atom] = 0;
  atom_of.clear();
  for (int i = 0; i < nall; i++)
    if (node_of[i] == 0) {
      node_of[i] = (int64_t) atom_of.size();
      atom_of.push_back(i);
    }
  for (auto *edges : {&first, &second, &one_way_center, &one_way_neighbor})
    for (int64_t &atom : *edges) atom = node_of[atom];
  return (int) atom_of.size();
}

void PairNequIP::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  const bool one_rank = comm->nprocs == 1;
  // graph nodes: local atoms (one rank) or local and ghost atoms (several), then the padding
  int nnodes = one_rank ? nlocal : nall;
  double **x = atom->x;
  double **f = atom->f;
  const int *type = atom->type;
  const size_t ntypes = model_type_names.size();

  // one rank: the local original of every atom (ghosts are periodic images of local atoms)
  std::vector<int> local_of_tag;
  if (one_rank) {
    tagint max_tag = 0;
    for (int i = 0; i < nlocal; i++) max_tag = std::max(max_tag, atom->tag[i]);
    local_of_tag.assign(max_tag + 1, -1);
    for (int i = 0; i < nlocal; i++) local_of_tag[atom->tag[i]] = i;
  }

  // every pair within its cutoff once, in its forward direction; both directions become edges
  // in pair order: i -> j in the first half, j -> i at the same place in the second
  std::vector<int64_t> first, second, one_way_center, one_way_neighbor;
  std::vector<double> vectors, one_way_vectors;
  const int nlist = one_rank ? list->inum : list->inum + list->gnum;
  for (int ii = 0; ii < nlist; ii++) {
    const int i = list->ilist[ii];
    const int *jlist = list->firstneigh[i];
    const int a = model_type_of[type[i]];
    for (int jj = 0; jj < list->numneigh[i]; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      const double d[3] = {x[j][0] - x[i][0], x[j][1] - x[i][1], x[j][2] - x[i][2]};
      int node = j;
      if (one_rank) {
        node = j < nlocal ? j : local_of_tag[atom->tag[j]];
        // forward: to a higher node, or to an image of itself whose first non-zero component is positive
        if (node < i) continue;
        if (node == i) {
          const double lead = std::fabs(d[0]) > 1e-6 ? d[0] : (std::fabs(d[1]) > 1e-6 ? d[1] : d[2]);
          if (lead < 0) continue;
        }
      } else if (j <= i) {
        continue;
      }
      const double rsq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
      const int b = model_type_of[type[j]];
      const bool ij = rsq < cutoff_sq[a * ntypes + b], ji = rsq < cutoff_sq[b * ntypes + a];
      if (ij && ji) {
        first.push_back(i);
        second.push_back(node);
        vectors.insert(vectors.end(), d, d + 3);
      } else if (ij || ji) {    // an asymmetric per-edge-type cutoff: a single directed edge
        one_way_center.push_back(ij ? i : node);
        one_way_neighbor.push_back(ij ? node : i);
        for (int k = 0; k < 3; k++) one_way_vectors.push_back(ij ? d[k] : -d[k]);
      }
    }
  }
  // atom_of[node]: the LAMMPS atom of each graph node
  std::vector<int> atom_of;
  if (!one_rank) {
    drop_edges_beyond_reach(nlocal, nall, first, second, vectors, one_way_center, one_way_neighbor, one_way_vectors);
    nnodes = keep_connected_nodes(nlocal, nall, first, second, one_way_center, one_way_neighbor, atom_of);
  } else {
    atom_of.resize(nlocal);
    for (int i = 0; i < nlocal; i++) atom_of[i] = i;
  }
  const int natoms = nnodes + NUM_PADDING_ATOMS;
  // the padding atoms, joined to each other only
  first.push_back(nnodes);
  second.push_back(nnodes + 1);
  vectors.insert(vectors.end(), {0.5 * r_max, 0.0, 0.0});

  const int64_t npairs = (int64_t) first.size(), none_way = (int64_t) one_way_center.size();
  const int64_t nedges = 2 * npairs + none_way;
  at::Tensor edge_index = at::empty({2, nedges}, at::kLong);
  at::Tensor edge_vectors = at::empty({nedges, 3}, at::kDouble);
  int64_t *center = edge_index.data_ptr<int64_t>();
  int64_t *neighbor_of = center + nedges;
  double *vec = edge_vectors.data_ptr<double>();
  for (int64_t e = 0; e < npairs; e++) {
    const int64_t reverse = npairs + none_way + e;
    center[e] = neighbor_of[reverse] = first[e];
    neighbor_of[e] = center[reverse] = second[e];
    for (int k = 0; k < 3; k++) {
      vec[3 * e + k] = vectors[3 * e + k];
      vec[3 * reverse + k] = -vectors[3 * e + k];
    }
  }
  for (int64_t e = 0; e < none_way; e++) {
    center[npairs + e] = one_way_center[e];
    neighbor_of[npairs + e] = one_way_neighbor[e];
    for (int k = 0; k < 3; k++) vec[3 * (npairs + e) + k] = one_way_vectors[3 * e + k];
  }
  at::Tensor types = at::empty({natoms}, at::kLong);
  int64_t *type_data = types.data_ptr<int64_t>();
  for (int i = 0; i < nnodes; i++) type_data[i] = model_type_of[type[atom_of[i]]];
  for (int p = 0; p < NUM_PADDING_ATOMS; p++) type_data[nnodes + p] = 0;
  at::Tensor num_local = at::full({1}, (int64_t) nlocal, at::kLong);

  std::vector<at::Tensor> outputs;
  try {
    outputs = model->run({edge_vectors, edge_index, types, num_local});
  } catch (const std::exception &err) {
    error->one(FLERR, "pair_style nequip: the model {} failed on {} atoms and {} edges: {}", model_path, natoms,
               nedges, first_line(err.what()));
  }
  const at::Tensor energy = outputs[0].contiguous(), atomic_energy = outputs[1].contiguous();
  const at::Tensor gradient = outputs[2].contiguous();
  const double *g = gradient.data_ptr<double>();
  const double scale = energy_factor;

  if (eflag_global) eng_vdwl += scale * energy.data_ptr<double>()[0];
  if (eflag_atom) {
    const double *e = atomic_energy.data_ptr<double>();
    for (int i = 0; i < nlocal; i++) eatom[i] += scale * e[i];
  }
  // LAMMPS's order: xx, yy, zz, xy, xz, yz
  const int row[6] = {0, 1, 2, 0, 0, 1}, col[6] = {0, 1, 2, 1, 2, 2};
  for (int64_t e = 0; e < nedges; e++) {
    const int64_t i = center[e], j = neighbor_of[e];
    if (i >= nnodes || j >= nnodes) continue;    // the padding atoms' edge
    const double *ge = g + 3 * e, *r = vec + 3 * e;
    // several ranks: forces on ghosts go back to their owners (newton pair on)
    double *fi = f[atom_of[i]], *fj = f[atom_of[j]];
    for (int k = 0; k < 3; k++) {
      fi[k] += scale * ge[k];
      fj[k] -= scale * ge[k];
    }
    if (vflag_either) {
      double w[6];
      for (int c = 0; c < 6; c++) w[c] = -0.5 * scale * (r[row[c]] * ge[col[c]] + r[col[c]] * ge[row[c]]);
      if (vflag_global)
        for (int c = 0; c < 6; c++) this->virial[c] += w[c];
      if (vflag_atom)
        for (int c = 0; c < 6; c++) {
          vatom[atom_of[i]][c] += 0.5 * w[c];
          vatom[atom_of[j]][c] += 0.5 * w[c];
        }
    }
  }
}
