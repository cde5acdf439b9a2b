/* GEMM over OpenBLAS sgemm, with three ways to use two or more threads (see stitch_gemm). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "parallel.h"

/* elements a row-major matrix view spans: (rows - 1) * ld + cols, 0 when empty */
static double span(int64_t rows, int64_t cols, int64_t ld) {
  return rows > 0 && cols > 0 ? (double)(rows - 1) * (double)ld + (double)cols : 0;
}

static bool reads_ab(const StitchGemm *g) { return g->k > 0 && g->alpha != 0; }

void stitch_gemm_extent(const StitchGemm *g, StitchGemmExtent *e) {
  int64_t a_rows = g->trans_a ? g->k : g->m, a_cols = g->trans_a ? g->m : g->k;
  int64_t b_rows = g->trans_b ? g->n : g->k, b_cols = g->trans_b ? g->k : g->n;
  e->min_lda = a_cols > 1 ? a_cols : 1;
  e->min_ldb = b_cols > 1 ? b_cols : 1;
  e->min_ldc = g->n > 1 ? g->n : 1;
  e->a_elements = e->b_elements = e->c_elements = 0;
  if (g->count == 0) return;
  double before_last = (double)(g->count - 1);
  if (reads_ab(g)) {
    e->a_elements = span(a_rows, a_cols, g->lda) + before_last * (double)g->stride_a;
    e->b_elements = span(b_rows, b_cols, g->ldb) + before_last * (double)g->stride_b;
  }
  e->c_elements = span(g->m, g->n, g->ldc) + before_last * (double)g->stride_c;
}

/* Product i of a batch, on the calling thread. */
static void gemm_at(const StitchGemm *g, int64_t i) {
  cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans, g->trans_b ? CblasTrans : CblasNoTrans,
              (int)g->m, (int)g->n, (int)g->k, (float)g->alpha, g->a + i * g->stride_a, (int)g->lda,
              g->b + i * g->stride_b, (int)g->ldb, (float)g->beta, g->c + i * g->stride_c, (int)g->ldc);
}

/* Runs a product on the calling thread with OpenBLAS's current thread count. */
static void run_gemm(const StitchGemm *g) {
  if (g->count == 0 || g->m == 0 || g->n == 0) return;
  if (!reads_ab(g)) {
    /* C = beta C; beta = 0 overwrites whatever C held (NaN included), as BLAS does */
    for (int64_t i = 0; i < g->count; i++)
      for (int64_t r = 0; r < g->m; r++) {
        float *row = g->c + i * g->stride_c + r * g->ldc;
        if (g->beta == 0) memset(row, 0, (size_t)g->n * sizeof(float));
        else if (g->beta != 1) for (int64_t j = 0; j < g->n; j++) row[j] *= (float)g->beta;
      }
    return;
  }
  for (int64_t i = 0; i < g->count; i++) gemm_at(g, i);
}

/* Products this small run faster one per thread than split across OpenBLAS threads. */
#define SMALL_GEMM_FLOPS (2.0 * 1024 * 1024)
/* Above this many flops a single product is cut into one block of C per thread. */
#define SPLIT_GEMM_MIN_FLOPS (192.0 * 1024 * 1024)
/* Below this many flops in the smaller product, a pair runs one after the other on OpenBLAS's threads. */
#define PAIR_GEMM_MIN_FLOPS (1.0 * 1024 * 1024)

/* One product as `parts` independent blocks of rows (or columns, whichever C has more of), one
   single-threaded sgemm per OpenMP thread: on the DT-step's [3840x128]x[128x512]-sized products
   with cold caches this is 5-10% faster than OpenBLAS's own two threads (docs/performance.md),
   whose threads hand work over inside the product. The blocks are fixed, so results do not
   depend on scheduling. Block edges are multiples of 32 so the kernels' unrolled widths stay whole. */
static void run_gemm_split(const StitchGemm *g, int parts) {
  bool by_rows = g->m >= g->n;
  int64_t extent = by_rows ? g->m : g->n;
  int64_t chunk = ((extent + parts - 1) / parts + 31) / 32 * 32;
  openblas_set_num_threads(1);
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; part++) {
    int64_t begin = (int64_t)part * chunk;
    int64_t end = begin + chunk < extent ? begin + chunk : extent;
    if (begin >= end) continue;
    StitchGemm block = *g;
    if (by_rows) {
      /* rows of op(A): A stored m x k steps by lda per row, stored k x m (transposed) by 1 */
      block.a = g->a + (!g->trans_a ? begin * g->lda : begin);
      block.c = g->c + begin * g->ldc;
      block.m = end - begin;
    } else {
      /* columns of op(B): B stored k x n steps by 1 per column, stored n x k (transposed) by ldb */
      block.b = g->b + (!g->trans_b ? begin : begin * g->ldb);
      block.c = g->c + begin;
      block.n = end - begin;
    }
    run_gemm(&block);
  }
  openblas_set_num_threads(stitch_thread_count);
}

static double gemm_flops(const StitchGemm *g) {
  return reads_ab(g) ? 2.0 * (double)g->m * (double)g->n * (double)g->k * (double)g->count : 0;
}

void stitch_gemm(const StitchGemm *g) {
  if (g->count == 0 || g->m == 0 || g->n == 0) return;
  double flops = 2.0 * (double)g->m * (double)g->n * (double)g->k;
  bool reads = reads_ab(g);
  bool disjoint_c = (double)g->stride_c >= span(g->m, g->n, g->ldc);
  int threads = stitch_thread_count;
  if (reads && g->count > 1 && disjoint_c && threads > 1 && flops <= SMALL_GEMM_FLOPS &&
      flops * g->count >= 2 * SMALL_GEMM_FLOPS / 8) {
    /* a batch of small products: one product per thread */
    openblas_set_num_threads(1);
    int batch_threads = g->count < threads ? (int)g->count : threads;
#pragma omp parallel for num_threads(batch_threads) schedule(static)
    for (int64_t i = 0; i < g->count; i++) gemm_at(g, i);
    openblas_set_num_threads(threads);
    return;
  }
  if (reads && g->count == 1 && threads > 1 && flops >= SPLIT_GEMM_MIN_FLOPS) {
    run_gemm_split(g, threads);
    return;
  }
  run_gemm(g);
}

/* Side by side, one OpenBLAS thread each. On these shapes that beats splitting each product over
   two threads (no hand-over between the threads inside a product; 5-10% on [3840x128]x[128x512]-
   sized products, up to 2x on 128x128 ones: docs/performance.md), and each product's result is
   the single-threaded one. */
void stitch_gemm_pair(const StitchGemm *first, const StitchGemm *second) {
  double smaller = fmin(gemm_flops(first), gemm_flops(second));
  if (stitch_thread_count < 2 || smaller < PAIR_GEMM_MIN_FLOPS) {
    run_gemm(first);
    run_gemm(second);
    return;
  }
  openblas_set_num_threads(1);
#pragma omp parallel sections num_threads(2)
  {
#pragma omp section
    run_gemm(first);
#pragma omp section
    run_gemm(second);
  }
  openblas_set_num_threads(stitch_thread_count);
}
