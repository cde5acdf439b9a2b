/*
 * The slice of OpenBLAS's cblas.h that native/kernels/ uses, for the WebAssembly build: there
 * cblas_sgemm is our own SIMD128 GEMM (wasm/gemm_simd.c) and there are no BLAS threads, so
 * native/kernels/gemm.c and attention.c compile for wasm unchanged.
 */
#ifndef STITCH_WASM_CBLAS_H
#define STITCH_WASM_CBLAS_H

enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };

/* row-major only (the only order the kernels use) */
void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE trans_a, enum CBLAS_TRANSPOSE trans_b, int m, int n,
                 int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* the kernels pin BLAS to one thread around nested parallel regions; the wasm GEMM has no threads of its own */
static inline void openblas_set_num_threads(int n) { (void)n; }

#endif
