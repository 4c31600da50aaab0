// Fused convolution of NequIP's interaction block on the CPU: for every edge e = (c, j),
// couple the neighbor's features with the edge's spherical harmonics through each path's
// Clebsch-Gordan coefficients, weight per channel and sum into the center's output,
// without writing any per-edge message to memory; and the first derivatives of that sum.
//
// Layouts (all row-major, contiguous):
//   x      (N, F_in)   node features, each input irrep block channel-last: [m1][u]
//   sh     (E, S)      edge spherical harmonics
//   w      (E, W)      per-edge path weights: path p's `mul` channels at w_off[p]; or, with
//                      pair_weights, (E / 2, W): edges e and e + E / 2 (the two directions of
//                      a pair, in pair order) share row e mod E / 2
//   out    (N, F_out)  summed messages, each path channel-last at out_off[p]: [m3][u]
//   paths  (P, 8)      int64 rows: mul, d1, d3, x_off, w_off, out_off, cg_begin, cg_end
//   cg_idx (C, 3)      int64 rows (m1, m2, m3) of the nonzero coupling coefficients, m2
//                      indexing a column of sh; cg_val (C,) their values
// out[c, out_off + m3 * mul + u] += w[e, w_off + u] * sum_{m1} t[m3][m1] x[j, x_off + m1 * mul + u]
// with t[m3][m1] = sum over the path's entries (m1, m2, m3) of value * sh[e, m2].
//
// Edges are split among threads; sums into nodes go to one buffer per thread, added at the end.
// With pair weights, the backward takes the two edges of a pair one after the other in one
// thread, so that each row of the weights' gradient has one writer.
//
// Registered as the operators nequip_kernels::tensor_product_scatter and
// nequip_kernels::tensor_product_scatter_backward (no Python in this library, so that programs
// without Python, such as LAMMPS running an exported model, can load it too).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace {

enum PathColumn { MUL, D1, D3, X_OFF, W_OFF, OUT_OFF, CG_BEGIN, CG_END, PATH_COLUMNS };
constexpr int64_t GRAIN = 64;  // edges per parallel task

// The edge loops are compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2, FMA) and baseline x86-64,
// chosen by the CPU's features when the library loads (GCC's function multiversioning), so one
// build runs well on every x86-64 CPU. (Clones named after a CPU model, arch=skylake-avx512,
// are chosen only on that model.)
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NEQUIP_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NEQUIP_CPU_CLONES
#endif

struct Problem {
  int64_t num_nodes, num_edges, f_in, f_out, s, w_cols, num_paths;
  int64_t half;  // E / 2 with pair weights, else 0
  const int64_t* paths;
  const int64_t* cg_idx;
  const int64_t* center;
  const int64_t* neighbor;
};

void check_inputs(const at::Tensor& x, const at::Tensor& sh, const at::Tensor& w, const at::Tensor& center,
                  const at::Tensor& neighbor, const at::Tensor& paths, const at::Tensor& cg_idx,
                  const at::Tensor& cg_val, bool pair_weights) {
  TORCH_CHECK(x.device().is_cpu() && sh.device().is_cpu() && w.device().is_cpu(), "nequip.kernels: CPU tensors only");
  TORCH_CHECK(x.dim() == 2 && sh.dim() == 2 && w.dim() == 2, "nequip.kernels: x, sh and w must be 2-D");
  TORCH_CHECK(sh.scalar_type() == x.scalar_type() && w.scalar_type() == x.scalar_type() &&
                  cg_val.scalar_type() == x.scalar_type(),
              "nequip.kernels: x, sh, w and cg_val must have one dtype, got ", x.scalar_type(), ", ", sh.scalar_type(),
              ", ", w.scalar_type(), ", ", cg_val.scalar_type());
  TORCH_CHECK(center.scalar_type() == at::kLong && neighbor.scalar_type() == at::kLong,
              "nequip.kernels: edge indices must be int64");
  TORCH_CHECK(center.numel() == sh.size(0) && neighbor.numel() == sh.size(0),
              "nequip.kernels: sh, center and neighbor must have one row per edge, got ", sh.size(0), ", ",
              center.numel(), ", ", neighbor.numel());
  if (pair_weights) {
    TORCH_CHECK(sh.size(0) % 2 == 0 && 2 * w.size(0) == sh.size(0),
                "nequip.kernels: with pair_weights, w must have one row per pair of edges (E / 2 for an even E), got ",
                w.size(0), " rows for ", sh.size(0), " edges");
  } else {
    TORCH_CHECK(w.size(0) == sh.size(0), "nequip.kernels: w must have one row per edge, got ", w.size(0),
                " rows for ", sh.size(0), " edges");
  }
  TORCH_CHECK(paths.dim() == 2 && paths.size(1) == PATH_COLUMNS && paths.scalar_type() == at::kLong,
              "nequip.kernels: paths must be (P, 8) int64");
  TORCH_CHECK(cg_idx.dim() == 2 && cg_idx.size(1) == 3 && cg_idx.size(0) == cg_val.numel(),
              "nequip.kernels: cg_idx must be (C, 3) with one value per row");
  if (center.numel() > 0) {
    const int64_t n = x.size(0);
    const auto c_min = center.min().item<int64_t>(), c_max = center.max().item<int64_t>();
    const auto j_min = neighbor.min().item<int64_t>(), j_max = neighbor.max().item<int64_t>();
    TORCH_CHECK(c_min >= 0 && c_max < n && j_min >= 0 && j_max < n, "nequip.kernels: edge indices must be in [0, ", n,
                "), got centers in [", c_min, ", ", c_max, "] and neighbors in [", j_min, ", ", j_max, "]");
  }
}

// Channels per block of the inner loops: 64 bytes (16 floats, 8 doubles), held in one vector of
// GCC's vector extension, which each clone lowers to its instruction set (one AVX-512 register,
// two AVX2 registers). The irrep dimensions of the common paths (1, 3 and 5, l <= 2) are
// compile-time constants, so a block's features, weights and gradients stay in registers across
// the coupling; other dimensions take the same code with run-time sizes.
template <typename T>
constexpr int64_t CHUNK = 64 / sizeof(T);
constexpr int64_t MAX_DIM = 16;  // 2 l + 1 for l <= 7
constexpr int64_t MAX_SH = 64;   // spherical harmonics up to l = 7
constexpr int64_t MAX_COUPLING = MAX_DIM * MAX_DIM;

#define NEQUIP_INLINE inline __attribute__((always_inline))

template <typename T>
struct VectorOf {
  typedef T type __attribute__((vector_size(64)));
};
template <typename T>
using Vec = typename VectorOf<T>::type;

// the first n (W if W > 0) values at p, the other lanes zero
template <typename T, int64_t W>
NEQUIP_INLINE Vec<T> load(const T* p, int64_t n) {
  Vec<T> v = {};
  std::memcpy(&v, p, (W ? W : n) * sizeof(T));
  return v;
}

template <typename T, int64_t W>
NEQUIP_INLINE void store(T* p, const Vec<T>& v, int64_t n) {
  std::memcpy(p, &v, (W ? W : n) * sizeof(T));
}

template <typename T>
NEQUIP_INLINE T sum_lanes(const Vec<T>& v) {  // pairwise, halving the width each step
  T lanes[CHUNK<T>];
  std::memcpy(lanes, &v, sizeof(lanes));
  for (int64_t width = CHUNK<T> / 2; width > 0; width /= 2)
    for (int64_t k = 0; k < width; ++k) lanes[k] += lanes[k + width];
  return lanes[0];
}

// t[m3 * d1 + m1] = sum of the path's coefficients times the edge's spherical harmonics
template <typename T>
NEQUIP_INLINE void couplings(const int64_t* path, const int64_t* cg_idx, const T* cg_val, const T* sh_e, T* t) {
  const int64_t d1 = path[D1];
  std::fill(t, t + path[D3] * d1, T(0));
  for (int64_t k = path[CG_BEGIN]; k < path[CG_END]; ++k) {
    const int64_t* idx = cg_idx + 3 * k;
    t[idx[2] * d1 + idx[0]] += cg_val[k] * sh_e[idx[1]];
  }
}

// One block of channels [u, u + n) of one path and one edge: out[m3][u] += w[u] sum_m1 t[m3][m1] x[m1][u].
// D1, D3, W: compile-time d1, d3 and n, or 0 for the run-time values. Pointers start at channel u.
template <typename T, int64_t D1, int64_t D3, int64_t W>
NEQUIP_INLINE void forward_block(const T* t, const T* xb, const T* we, T* ob, int64_t d1_, int64_t d3_,
                                 int64_t mul, int64_t n) {
  const int64_t d1 = D1 ? D1 : d1_, d3 = D3 ? D3 : d3_;
  Vec<T> xv[D1 ? D1 : MAX_DIM];
  for (int64_t m1 = 0; m1 < d1; ++m1) xv[m1] = load<T, W>(xb + m1 * mul, n);
  const Vec<T> wv = load<T, W>(we, n);
  for (int64_t m3 = 0; m3 < d3; ++m3) {
    Vec<T> acc = t[m3 * d1] * xv[0];
    for (int64_t m1 = 1; m1 < d1; ++m1) acc += t[m3 * d1 + m1] * xv[m1];
    T* o = ob + m3 * mul;
    store<T, W>(o, load<T, W>(o, n) + wv * acc, n);
  }
}

template <typename T, int64_t D1, int64_t D3>
NEQUIP_INLINE void forward_path(const T* t, const T* xb, const T* we, T* ob, int64_t d1, int64_t d3, int64_t mul) {
  int64_t u = 0;
  for (; u + CHUNK<T> <= mul; u += CHUNK<T>)
    forward_block<T, D1, D3, CHUNK<T>>(t, xb + u, we + u, ob + u, d1, d3, mul, CHUNK<T>);
  if (u < mul) forward_block<T, D1, D3, 0>(t, xb + u, we + u, ob + u, d1, d3, mul, mul - u);
}

// One block of channels of the backward of one path and one edge: adds to the weights' gradient
// gw[u] (if given), the neighbor's gradient gxb[m1][u] (if given) and the gradient of the
// couplings per lane, g_t[m3 * d1 + m1] (if given; the lanes are summed later).
template <typename T, int64_t D1, int64_t D3, int64_t W>
NEQUIP_INLINE void backward_block(const T* t, const T* xb, const T* we, const T* gb, T* gw, T* gxb, Vec<T>* g_t,
                                  int64_t d1_, int64_t d3_, int64_t mul, int64_t n) {
  const int64_t d1 = D1 ? D1 : d1_, d3 = D3 ? D3 : d3_;
  Vec<T> xv[D1 ? D1 : MAX_DIM], gv[D3 ? D3 : MAX_DIM];
  for (int64_t m1 = 0; m1 < d1; ++m1) xv[m1] = load<T, W>(xb + m1 * mul, n);
  for (int64_t m3 = 0; m3 < d3; ++m3) gv[m3] = load<T, W>(gb + m3 * mul, n);
  if (gw) {  // d/dw[u] = sum_m3 g[m3][u] * sum_m1 t[m3][m1] x[m1][u]
    Vec<T> s = {};
    for (int64_t m3 = 0; m3 < d3; ++m3) {
      Vec<T> acc = t[m3 * d1] * xv[0];
      for (int64_t m1 = 1; m1 < d1; ++m1) acc += t[m3 * d1 + m1] * xv[m1];
      s += gv[m3] * acc;
    }
    store<T, W>(gw, load<T, W>(gw, n) + s, n);
  }
  if (!gxb && !g_t) return;
  const Vec<T> wv = load<T, W>(we, n);
  for (int64_t m3 = 0; m3 < d3; ++m3) gv[m3] *= wv;  // w[u] * g[m3][u]
  if (gxb) {  // d/dx[m1][u] = sum_m3 t[m3][m1] w[u] g[m3][u]
    for (int64_t m1 = 0; m1 < d1; ++m1) {
      Vec<T> acc = t[m1] * gv[0];
      for (int64_t m3 = 1; m3 < d3; ++m3) acc += t[m3 * d1 + m1] * gv[m3];
      T* gxm = gxb + m1 * mul;
      store<T, W>(gxm, load<T, W>(gxm, n) + acc, n);
    }
  }
  if (g_t)  // d/dt[m3][m1] = sum_u w[u] g[m3][u] x[m1][u]
    for (int64_t m3 = 0; m3 < d3; ++m3)
      for (int64_t m1 = 0; m1 < d1; ++m1) g_t[m3 * d1 + m1] += gv[m3] * xv[m1];
}

template <typename T, int64_t D1, int64_t D3>
NEQUIP_INLINE void backward_path(const T* t, const T* xb, const T* we, const T* gb, T* gw, T* gxb, Vec<T>* g_t,
                                 int64_t d1, int64_t d3, int64_t mul) {
  int64_t u = 0;
  for (; u + CHUNK<T> <= mul; u += CHUNK<T>)
    backward_block<T, D1, D3, CHUNK<T>>(t, xb + u, we + u, gb + u, gw ? gw + u : nullptr, gxb ? gxb + u : nullptr, g_t,
                                     d1, d3, mul, CHUNK<T>);
  if (u < mul)
    backward_block<T, D1, D3, 0>(t, xb + u, we + u, gb + u, gw ? gw + u : nullptr, gxb ? gxb + u : nullptr, g_t, d1,
                                 d3, mul, mul - u);
}

// calls f(std::integral_constant<int64_t, D1>, std::integral_constant<int64_t, D3>) with the
// compile-time dimensions of a common path, or with zeros (run-time dimensions)
template <typename F>
NEQUIP_INLINE void with_dimensions(int64_t d1, int64_t d3, const F& f) {
#define NEQUIP_DIMENSIONS(A, B)                                                       \
  if (d1 == A && d3 == B) {                                                           \
    f(std::integral_constant<int64_t, A>{}, std::integral_constant<int64_t, B>{}); \
    return;                                                                           \
  }
  NEQUIP_DIMENSIONS(1, 1)
  NEQUIP_DIMENSIONS(1, 3)
  NEQUIP_DIMENSIONS(3, 1)
  NEQUIP_DIMENSIONS(3, 3)
  NEQUIP_DIMENSIONS(1, 5)
  NEQUIP_DIMENSIONS(5, 1)
  NEQUIP_DIMENSIONS(3, 5)
  NEQUIP_DIMENSIONS(5, 3)
  NEQUIP_DIMENSIONS(5, 5)
#undef NEQUIP_DIMENSIONS
  f(std::integral_constant<int64_t, 0>{}, std::integral_constant<int64_t, 0>{});
}

// the row of w that edge e reads
NEQUIP_INLINE int64_t weight_row(const Problem& p, int64_t e) { return p.half && e >= p.half ? e - p.half : e; }

// the i-th edge of the backward: with pair weights the two edges of pair r are i = 2 r and 2 r + 1
NEQUIP_INLINE int64_t backward_edge(const Problem& p, int64_t i) { return p.half ? (i >> 1) + (i & 1) * p.half : i; }

template <typename T>
NEQUIP_INLINE void forward_edges_body(const Problem& p, const T* x, const T* sh, const T* w, const T* cg_val, T* out,
                                      int64_t begin, int64_t end) {
  T t[MAX_COUPLING];
  for (int64_t e = begin; e < end; ++e) {
    const T* x_j = x + p.neighbor[e] * p.f_in;
    T* out_c = out + p.center[e] * p.f_out;
    const T* w_e = w + weight_row(p, e) * p.w_cols;
    for (int64_t q = 0; q < p.num_paths; ++q) {
      const int64_t* path = p.paths + q * PATH_COLUMNS;
      const int64_t mul = path[MUL], d1 = path[D1], d3 = path[D3];
      couplings(path, p.cg_idx, cg_val, sh + e * p.s, t);
      with_dimensions(d1, d3, [&](auto D1c, auto D3c) __attribute__((always_inline)) {
        forward_path<T, decltype(D1c)::value, decltype(D3c)::value>(t, x_j + path[X_OFF], w_e + path[W_OFF],
                                                                   out_c + path[OUT_OFF], d1, d3, mul);
      });
    }
  }
}

template <typename T>
NEQUIP_INLINE void backward_edges_body(const Problem& p, const T* x, const T* sh, const T* w, const T* cg_val,
                                       const T* grad_out, T* grad_x, T* grad_sh, T* grad_w, int64_t begin,
                                       int64_t end) {
  T t[MAX_COUPLING];
  // gradients of the couplings and of the spherical harmonics per lane, summed over the lanes
  // once per edge
  Vec<T> g_t[MAX_COUPLING], g_sh[MAX_SH];
  for (int64_t i = begin; i < end; ++i) {
    const int64_t e = backward_edge(p, i);
    const T* x_j = x + p.neighbor[e] * p.f_in;
    const T* g_c = grad_out + p.center[e] * p.f_out;
    const T* w_e = w + weight_row(p, e) * p.w_cols;
    T* gw_e = grad_w ? grad_w + weight_row(p, e) * p.w_cols : nullptr;
    T* gx_j = grad_x ? grad_x + p.neighbor[e] * p.f_in : nullptr;
    if (grad_sh) std::fill(g_sh, g_sh + p.s, Vec<T>{});
    for (int64_t q = 0; q < p.num_paths; ++q) {
      const int64_t* path = p.paths + q * PATH_COLUMNS;
      const int64_t mul = path[MUL], d1 = path[D1], d3 = path[D3];
      couplings(path, p.cg_idx, cg_val, sh + e * p.s, t);
      if (grad_sh) std::fill(g_t, g_t + d3 * d1, Vec<T>{});
      with_dimensions(d1, d3, [&](auto D1c, auto D3c) __attribute__((always_inline)) {
        backward_path<T, decltype(D1c)::value, decltype(D3c)::value>(
            t, x_j + path[X_OFF], w_e + path[W_OFF], g_c + path[OUT_OFF], gw_e ? gw_e + path[W_OFF] : nullptr,
            gx_j ? gx_j + path[X_OFF] : nullptr, grad_sh ? g_t : nullptr, d1, d3, mul);
      });
      if (grad_sh)  // d/dsh[m2] = sum over the path's entries of value * d/dt[m3][m1]
        for (int64_t k = path[CG_BEGIN]; k < path[CG_END]; ++k) {
          const int64_t* idx = p.cg_idx + 3 * k;
          g_sh[idx[1]] += cg_val[k] * g_t[idx[2] * d1 + idx[0]];
        }
    }
    if (grad_sh)
      for (int64_t m2 = 0; m2 < p.s; ++m2) grad_sh[e * p.s + m2] += sum_lanes<T>(g_sh[m2]);
  }
}

NEQUIP_CPU_CLONES void forward_edges(const Problem& p, const float* x, const float* sh, const float* w,
                                     const float* cg_val, float* out, int64_t begin, int64_t end) {
  forward_edges_body<float>(p, x, sh, w, cg_val, out, begin, end);
}
NEQUIP_CPU_CLONES void forward_edges(const Problem& p, const double* x, const double* sh, const double* w,
                                     const double* cg_val, double* out, int64_t begin, int64_t end) {
  forward_edges_body<double>(p, x, sh, w, cg_val, out, begin, end);
}
NEQUIP_CPU_CLONES void backward_edges(const Problem& p, const float* x, const float* sh, const float* w,
                                      const float* cg_val, const float* grad_out, float* grad_x, float* grad_sh,
                                      float* grad_w, int64_t begin, int64_t end) {
  backward_edges_body<float>(p, x, sh, w, cg_val, grad_out, grad_x, grad_sh, grad_w, begin, end);
}
NEQUIP_CPU_CLONES void backward_edges(const Problem& p, const double* x, const double* sh, const double* w,
                                      const double* cg_val, const double* grad_out, double* grad_x, double* grad_sh,
                                      double* grad_w, int64_t begin, int64_t end) {
  backward_edges_body<double>(p, x, sh, w, cg_val, grad_out, grad_x, grad_sh, grad_w, begin, end);
}

Problem make_problem(const at::Tensor& x, const at::Tensor& sh, const at::Tensor& w,
                     const at::Tensor& center, const at::Tensor& neighbor, const at::Tensor& paths,
                     const at::Tensor& cg_idx, int64_t f_out, bool pair_weights) {
  const int64_t* path_rows = paths.data_ptr<int64_t>();
  TORCH_CHECK(sh.size(1) <= MAX_SH, "nequip.kernels: at most ", MAX_SH, " spherical harmonics (l = 7) are supported, got ",
              sh.size(1));
  for (int64_t q = 0; q < paths.size(0); ++q) {
    const int64_t* path = path_rows + q * PATH_COLUMNS;
    TORCH_CHECK(path[D1] <= MAX_DIM && path[D3] <= MAX_DIM, "nequip.kernels: path ", q,
                " couples irreps of dimensions ", path[D1], " and ", path[D3], "; at most ", MAX_DIM,
                " (l = 7) are supported");
    TORCH_CHECK(path[MUL] >= 1 && path[D1] >= 1 && path[D3] >= 1 && path[X_OFF] >= 0 && path[W_OFF] >= 0 &&
                    path[OUT_OFF] >= 0 && path[CG_BEGIN] <= path[CG_END],
                "nequip.kernels: path ", q, " has a nonpositive size or a negative offset");
    TORCH_CHECK(path[X_OFF] + path[D1] * path[MUL] <= x.size(1) && path[W_OFF] + path[MUL] <= w.size(1) &&
                    path[OUT_OFF] + path[D3] * path[MUL] <= f_out && path[CG_BEGIN] >= 0 &&
                    path[CG_END] <= cg_idx.size(0),
                "nequip.kernels: path ", q, " reaches outside its tensors");
  }
  return Problem{x.size(0),
                 sh.size(0),
                 x.size(1),
                 f_out,
                 sh.size(1),
                 w.size(1),
                 paths.size(0),
                 pair_weights ? sh.size(0) / 2 : 0,
                 path_rows,
                 cg_idx.data_ptr<int64_t>(),
                 center.data_ptr<int64_t>(),
                 neighbor.data_ptr<int64_t>()};
}

// runs `edges(buffer, begin, end)` over all edges in parallel, each thread summing into its own
// (rows, cols) buffer; returns the sum of the buffers
template <typename T, typename F>
at::Tensor sum_over_threads(int64_t num_edges, int64_t rows, int64_t cols, const at::TensorOptions& options,
                               const F& edges) {
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), std::max<int64_t>(1, num_edges / GRAIN));
  auto buffers = at::zeros({threads, rows, cols}, options);
  T* data = buffers.data_ptr<T>();
  if (threads == 1) {
    edges(data, 0, num_edges);
    return buffers[0];
  }
  int64_t per_thread = (num_edges + threads - 1) / threads;
  per_thread += per_thread % 2;  // even, so that a pair of edges (2 r, 2 r + 1) stays in one thread
  at::parallel_for(0, threads, 1, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t)
      edges(data + t * rows * cols, t * per_thread, std::min(num_edges, (t + 1) * per_thread));
  });
  return buffers.sum(0);
}

at::Tensor forward(at::Tensor x, at::Tensor sh, at::Tensor w, at::Tensor center, at::Tensor neighbor,
                      at::Tensor paths, at::Tensor cg_idx, at::Tensor cg_val, int64_t f_out, bool pair_weights) {
  check_inputs(x, sh, w, center, neighbor, paths, cg_idx, cg_val, pair_weights);
  x = x.contiguous(), sh = sh.contiguous(), w = w.contiguous(), center = center.contiguous();
  neighbor = neighbor.contiguous(), paths = paths.contiguous(), cg_idx = cg_idx.contiguous();
  cg_val = cg_val.contiguous();
  const Problem p = make_problem(x, sh, w, center, neighbor, paths, cg_idx, f_out, pair_weights);
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "nequip_tensor_product_scatter_forward", [&] {
    const scalar_t *xd = x.data_ptr<scalar_t>(), *shd = sh.data_ptr<scalar_t>(), *wd = w.data_ptr<scalar_t>();
    const scalar_t* cgd = cg_val.data_ptr<scalar_t>();
    out = sum_over_threads<scalar_t>(p.num_edges, p.num_nodes, f_out, x.options(),
                                     [&](scalar_t* buffer, int64_t begin, int64_t end) {
                                       forward_edges(p, xd, shd, wd, cgd, buffer, begin, end);
                                     });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward(at::Tensor grad_out, at::Tensor x, at::Tensor sh, at::Tensor w,
                                    at::Tensor center, at::Tensor neighbor, at::Tensor paths,
                                    at::Tensor cg_idx, at::Tensor cg_val, bool need_x, bool need_sh,
                                    bool need_w, bool pair_weights) {
  check_inputs(x, sh, w, center, neighbor, paths, cg_idx, cg_val, pair_weights);
  TORCH_CHECK(grad_out.dim() == 2 && grad_out.size(0) == x.size(0) && grad_out.scalar_type() == x.scalar_type(),
              "nequip.kernels: grad_out must be (N, F_out) of the features' dtype");
  grad_out = grad_out.contiguous(), x = x.contiguous(), sh = sh.contiguous(), w = w.contiguous();
  center = center.contiguous(), neighbor = neighbor.contiguous(), paths = paths.contiguous();
  cg_idx = cg_idx.contiguous(), cg_val = cg_val.contiguous();
  const Problem p = make_problem(x, sh, w, center, neighbor, paths, cg_idx, grad_out.size(1), pair_weights);
  at::Tensor grad_x, grad_sh = need_sh ? at::zeros_like(sh) : sh.new_empty({0});
  at::Tensor grad_w = need_w ? at::zeros_like(w) : w.new_empty({0});
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "nequip_tensor_product_scatter_backward", [&] {
    const scalar_t *xd = x.data_ptr<scalar_t>(), *shd = sh.data_ptr<scalar_t>(), *wd = w.data_ptr<scalar_t>();
    const scalar_t *cgd = cg_val.data_ptr<scalar_t>(), *gd = grad_out.data_ptr<scalar_t>();
    scalar_t* gsh = need_sh ? grad_sh.data_ptr<scalar_t>() : nullptr;
    scalar_t* gw = need_w ? grad_w.data_ptr<scalar_t>() : nullptr;
    // per-edge gradients are written by the thread that owns the edge; node gradients are summed
    grad_x = sum_over_threads<scalar_t>(p.num_edges, need_x ? p.num_nodes : 1, need_x ? p.f_in : 1, x.options(),
                                        [&](scalar_t* buffer, int64_t begin, int64_t end) {
                                          backward_edges(p, xd, shd, wd, cgd, gd, need_x ? buffer : nullptr,
                                                                   gsh, gw, begin, end);
                                        });
  });
  return {need_x ? grad_x : x.new_empty({0}), grad_sh, grad_w};
}

}  // namespace

TORCH_LIBRARY(nequip_kernels, m) {
  m.def(
      "tensor_product_scatter(Tensor x, Tensor sh, Tensor w, Tensor center, Tensor neighbor, Tensor paths, "
      "Tensor cg_index, Tensor cg_value, int num_outputs, bool pair_weights) -> Tensor");
  // gradients of x, sh and w; those not asked for are empty
  m.def(
      "tensor_product_scatter_backward(Tensor grad_out, Tensor x, Tensor sh, Tensor w, Tensor center, "
      "Tensor neighbor, Tensor paths, Tensor cg_index, Tensor cg_value, bool need_x, bool need_sh, bool need_w, "
      "bool pair_weights) "
      "-> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(nequip_kernels, CPU, m) {
  m.impl("tensor_product_scatter", &forward);
  m.impl("tensor_product_scatter_backward", &backward);
}
