/*
 * Single-precision GEMM in WebAssembly SIMD128, the wasm build's cblas_sgemm (row-major).
 *
 * GotoBLAS layout: C is cut into NC-wide column blocks, the shared dimension into KC-deep slices
 * and the rows into MC-high blocks. Each KC x NC slice of op(B) is packed once into 8-column
 * panels and each MC x KC block of op(A) into 4-row panels, so the micro-kernel reads both
 * contiguously whatever the transposes, and a 4 x 8 tile of C lives in 8 vector registers for a
 * whole slice (8 accumulators + 2 loads of B + 1 broadcast of A fit the 16 registers of x86-64's
 * SSE/AVX, which V8 maps wasm vectors to). Packing pads partial panels with zeros; partial tiles
 * of C are written through a small buffer. Sums run in a fixed order: results are deterministic.
 */
#include <stdint.h>
#include <string.h>
#include <wasm_simd128.h>

#include "cblas.h"

#define MR 4
#define NR 8

/* acc + a b: one fused multiply-add where the engine has relaxed SIMD (the stitch-relaxed.wasm
 * build), a multiply and an add otherwise (stitch.wasm) */
#ifdef __wasm_relaxed_simd__
#define MADD(acc, a, b) __builtin_wasm_relaxed_madd_f32x4((a), (b), (acc))
#else
#define MADD(acc, a, b) wasm_f32x4_add((acc), wasm_f32x4_mul((a), (b)))
#endif
/* KC x NR floats of B (8 KiB) stay in L1 while a block of A (MC x KC, 64 KiB) sits in L2 */
#define KC 256
#define MC 64
#define NC 1024

static float packed_a[MC * KC] __attribute__((aligned(16)));
static float packed_b[KC * NC] __attribute__((aligned(16)));

/* op(A)[row, p] for the block rows [row0, row0 + rows) and slice [p0, p0 + depth), as 4-row panels */
static void pack_a(const float *a, int lda, int trans, int row0, int rows, int p0, int depth) {
  float *dst = packed_a;
  for (int i0 = 0; i0 < rows; i0 += MR) {
    int height = rows - i0 < MR ? rows - i0 : MR;
    for (int p = 0; p < depth; p++) {
      for (int i = 0; i < height; i++) {
        int row = row0 + i0 + i, col = p0 + p;
        dst[i] = trans ? a[(size_t)col * lda + row] : a[(size_t)row * lda + col];
      }
      for (int i = height; i < MR; i++) dst[i] = 0.0f;
      dst += MR;
    }
  }
}

/* op(B)[p, col] for the slice [p0, p0 + depth) and columns [col0, col0 + cols), as 8-column panels */
static void pack_b(const float *b, int ldb, int trans, int p0, int depth, int col0, int cols) {
  float *dst = packed_b;
  for (int j0 = 0; j0 < cols; j0 += NR) {
    int width = cols - j0 < NR ? cols - j0 : NR;
    if (!trans && width == NR) {
      for (int p = 0; p < depth; p++) {
        const float *src = b + (size_t)(p0 + p) * ldb + col0 + j0;
        wasm_v128_store(dst, wasm_v128_load(src));
        wasm_v128_store(dst + 4, wasm_v128_load(src + 4));
        dst += NR;
      }
      continue;
    }
    for (int p = 0; p < depth; p++) {
      for (int j = 0; j < width; j++) {
        int row = p0 + p, col = col0 + j0 + j;
        dst[j] = trans ? b[(size_t)col * ldb + row] : b[(size_t)row * ldb + col];
      }
      for (int j = width; j < NR; j++) dst[j] = 0.0f;
      dst += NR;
    }
  }
}

/* C[0:height, 0:width] += alpha * (A panel) (B panel) over `depth` */
static void micro_kernel(int depth, const float *a, const float *b, float *c, int ldc, float alpha, int height,
                         int width) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int p = 0; p < depth; p++) {
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    v128_t a0 = wasm_v128_load32_splat(a), a1 = wasm_v128_load32_splat(a + 1);
    c00 = MADD(c00, a0, b0);
    c01 = MADD(c01, a0, b1);
    c10 = MADD(c10, a1, b0);
    c11 = MADD(c11, a1, b1);
    v128_t a2 = wasm_v128_load32_splat(a + 2), a3 = wasm_v128_load32_splat(a + 3);
    c20 = MADD(c20, a2, b0);
    c21 = MADD(c21, a2, b1);
    c30 = MADD(c30, a3, b0);
    c31 = MADD(c31, a3, b1);
    a += MR;
    b += NR;
  }
  v128_t scale = wasm_f32x4_splat(alpha);
  if (height == MR && width == NR) {
    float *r0 = c, *r1 = c + ldc, *r2 = c + 2 * ldc, *r3 = c + 3 * ldc;
    wasm_v128_store(r0, wasm_f32x4_add(wasm_v128_load(r0), wasm_f32x4_mul(scale, c00)));
    wasm_v128_store(r0 + 4, wasm_f32x4_add(wasm_v128_load(r0 + 4), wasm_f32x4_mul(scale, c01)));
    wasm_v128_store(r1, wasm_f32x4_add(wasm_v128_load(r1), wasm_f32x4_mul(scale, c10)));
    wasm_v128_store(r1 + 4, wasm_f32x4_add(wasm_v128_load(r1 + 4), wasm_f32x4_mul(scale, c11)));
    wasm_v128_store(r2, wasm_f32x4_add(wasm_v128_load(r2), wasm_f32x4_mul(scale, c20)));
    wasm_v128_store(r2 + 4, wasm_f32x4_add(wasm_v128_load(r2 + 4), wasm_f32x4_mul(scale, c21)));
    wasm_v128_store(r3, wasm_f32x4_add(wasm_v128_load(r3), wasm_f32x4_mul(scale, c30)));
    wasm_v128_store(r3 + 4, wasm_f32x4_add(wasm_v128_load(r3 + 4), wasm_f32x4_mul(scale, c31)));
    return;
  }
  float tile[MR * NR] __attribute__((aligned(16)));
  wasm_v128_store(tile, wasm_f32x4_mul(scale, c00));
  wasm_v128_store(tile + 4, wasm_f32x4_mul(scale, c01));
  wasm_v128_store(tile + 8, wasm_f32x4_mul(scale, c10));
  wasm_v128_store(tile + 12, wasm_f32x4_mul(scale, c11));
  wasm_v128_store(tile + 16, wasm_f32x4_mul(scale, c20));
  wasm_v128_store(tile + 20, wasm_f32x4_mul(scale, c21));
  wasm_v128_store(tile + 24, wasm_f32x4_mul(scale, c30));
  wasm_v128_store(tile + 28, wasm_f32x4_mul(scale, c31));
  for (int i = 0; i < height; i++)
    for (int j = 0; j < width; j++) c[(size_t)i * ldc + j] += tile[i * NR + j];
}

/* C = beta C over m x n; beta = 0 overwrites (NaN included), as BLAS does */
static void scale_c(float *c, int ldc, int m, int n, float beta) {
  if (beta == 1.0f) return;
  for (int i = 0; i < m; i++) {
    float *row = c + (size_t)i * ldc;
    if (beta == 0.0f) memset(row, 0, (size_t)n * sizeof(float));
    else for (int j = 0; j < n; j++) row[j] *= beta;
  }
}

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE trans_a, enum CBLAS_TRANSPOSE trans_b, int m, int n,
                 int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  (void)order;
  if (m <= 0 || n <= 0) return;
  scale_c(c, ldc, m, n, beta);
  if (k <= 0 || alpha == 0.0f) return;
  int ta = trans_a == CblasTrans, tb = trans_b == CblasTrans;
  for (int j0 = 0; j0 < n; j0 += NC) {
    int cols = n - j0 < NC ? n - j0 : NC;
    for (int p0 = 0; p0 < k; p0 += KC) {
      int depth = k - p0 < KC ? k - p0 : KC;
      pack_b(b, ldb, tb, p0, depth, j0, cols);
      for (int i0 = 0; i0 < m; i0 += MC) {
        int rows = m - i0 < MC ? m - i0 : MC;
        pack_a(a, lda, ta, i0, rows, p0, depth);
        for (int jr = 0; jr < cols; jr += NR) {
          int width = cols - jr < NR ? cols - jr : NR;
          const float *b_panel = packed_b + (size_t)jr * depth;
          for (int ir = 0; ir < rows; ir += MR) {
            int height = rows - ir < MR ? rows - ir : MR;
            micro_kernel(depth, packed_a + (size_t)ir * depth, b_panel, c + (size_t)(i0 + ir) * ldc + j0 + jr, ldc,
                         alpha, height, width);
          }
        }
      }
    }
  }
}
