/*
 * How the kernels split work over threads (internal to native/kernels/).
 *
 * GEMM runs on OpenBLAS's own threads; every other kernel is split with OpenMP into contiguous,
 * deterministic parts (a reduction always sums its parts in the same order, so a result depends
 * on the thread count but never on scheduling). Kernels that call sgemm from inside an OpenMP
 * region (attention, small batched GEMM) pin OpenBLAS to one thread meanwhile.
 */
#ifndef STITCH_PARALLEL_H
#define STITCH_PARALLEL_H

#include <stddef.h>
#include <stdint.h>

/* the thread count set by stitch_set_threads (threads.c) */
extern int stitch_thread_count;

/* Below this many elements of work a second thread costs more (wake-up) than it saves. */
#define GRAIN_MEMORY 32768
#define GRAIN_COMPUTE 4096
/* element-wise kernels hand out blocks of this many elements (a multiple of a cache line) */
#define BLOCK 4096

static inline int threads_for(double work, double grain) {
  double useful = work / grain;
  if (useful < 2) return 1;
  return useful < stitch_thread_count ? (int)useful : stitch_thread_count;
}

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Begin of part `part` of `parts` over n items: contiguous ranges, independent of scheduling. */
static inline size_t part_begin(size_t n, int part, int parts) {
#ifdef __wasm__
  /* wasm32: size_t is 32 bits, so the product fits in 64 (and wasm has no 128-bit multiply) */
  return (size_t)((uint64_t)n * (unsigned)part / (unsigned)parts);
#else
  return (size_t)((unsigned __int128)n * (unsigned)part / (unsigned)parts);
#endif
}

/* Runs `body` over [begin, end) blocks of n elements, threaded when n * cost_per_element is large. */
#define FOR_BLOCKS(n, grain, body)                                                            \
  do {                                                                                        \
    size_t blocks_ = ((n) + BLOCK - 1) / BLOCK;                                               \
    int threads_ = threads_for((double)(n), (grain));                                         \
    _Pragma("omp parallel for num_threads(threads_) schedule(static)")                        \
    for (size_t block_ = 0; block_ < blocks_; block_++) {                                     \
      size_t begin = block_ * BLOCK, end = min_size((n), begin + BLOCK);                      \
      body;                                                                                   \
    }                                                                                         \
  } while (0)

/* Loops marked so are compiled twice (AVX2+FMA and baseline x86-64), picked at load time. */
#ifdef __wasm__
/* the WebAssembly build is compiled once, for SIMD128 */
#define VECTOR_CLONES
#else
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif

#endif
