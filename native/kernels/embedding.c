/* Embedding lookups: gather rows of a table, and the backward's scatter-add into its gradient. */
#include <string.h>

#include "kernels.h"
#include "parallel.h"

int64_t stitch_first_bad_index(const int32_t *index, size_t count, double table_rows) {
  for (size_t r = 0; r < count; r++)
    if (index[r] < 0 || (double)index[r] >= table_rows) return (int64_t)r;
  return -1;
}

void stitch_gather_rows(const float *table, const int32_t *index, size_t count, float *out, int64_t cols) {
  if (cols == 0) return;
  int threads = threads_for((double)count * (double)cols, GRAIN_MEMORY);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t r = 0; r < count; r++) memcpy(out + r * cols, table + (size_t)index[r] * cols, (size_t)cols * sizeof(float));
}

void stitch_scatter_add_rows(const float *grad_out, const int32_t *index, size_t count, float *grad_table, int64_t cols) {
  if (cols == 0) return;
  /* indices repeat, so threads split the columns, never the rows: no two write the same element */
  int parts = threads_for((double)count * (double)cols, GRAIN_MEMORY);
  if (parts > cols / 16) parts = cols / 16 > 1 ? (int)(cols / 16) : 1;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; part++) {
    size_t first = part_begin(cols, part, parts), last = part_begin(cols, part + 1, parts);
    for (size_t r = 0; r < count; r++) {
      float *dst = grad_table + (size_t)index[r] * cols;
      const float *src = grad_out + r * cols;
      for (size_t col = first; col < last; col++) dst[col] += src[col];
    }
  }
}
