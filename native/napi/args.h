/*
 * Argument checking for the Node-API glue: one helper per kind of argument, each of which
 * validates and fetches one argument, or throws the one error that names the function and the
 * argument ("stitch_native.gemm: lda must be >= 2 (got 1)") and marks the call failed.
 *
 * A failed call is sticky: later helpers do nothing and return zeros, so an export fetches all
 * its arguments, states what the arrays must hold, and checks `args_failed` once before it
 * calls the kernel. The first bad argument, in the order checked, is the one reported, and
 * nothing is written before every argument has been checked.
 */
#ifndef STITCH_ARGS_H
#define STITCH_ARGS_H

#define NAPI_VERSION 8
#include <node_api.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the most arguments an export takes (gemmPair) */
#define ARGS_MAX 26

typedef struct {
  napi_env env;
  const char *fn;
  napi_value argv[ARGS_MAX];
  bool failed;
} Args;

/* A typed array argument: its data, its length in elements and its name for messages. */
typedef struct {
  float *data;
  size_t length;
  const char *name;
} F32;

typedef struct {
  int32_t *data;
  size_t length;
  const char *name;
} I32;

/* BLAS dimensions are 32-bit ints in Debian's OpenBLAS */
#define MAX_DIM 2147483647.0
/* element counts: typed arrays are indexed below 2^53 */
#define MAX_COUNT 9007199254740991.0

/* Reads the call's arguments; fewer than `expected` is a TypeError. */
void args_open(Args *args, napi_env env, napi_callback_info info, const char *fn, size_t expected);
static inline bool args_failed(const Args *args) { return args->failed; }

F32 args_f32(Args *args, size_t at, const char *name);
/* null gives data NULL and length 0 */
F32 args_f32_or_null(Args *args, size_t at, const char *name);
I32 args_i32(Args *args, size_t at, const char *name);
double args_number(Args *args, size_t at, const char *name);
bool args_bool(Args *args, size_t at, const char *name);
/* an integer in [min, max] */
int64_t args_int(Args *args, size_t at, const char *name, double min, double max);
/* a BLAS dimension: an integer in [0, 2^31 - 1] */
int64_t args_dim(Args *args, size_t at, const char *name);
/* an element count or offset: an integer in [0, 2^53 - 1] */
int64_t args_count(Args *args, size_t at, const char *name);
uint32_t args_seed(Args *args, size_t at, const char *name);
double args_probability(Args *args, size_t at, const char *name);

/* The array must hold at least `required` elements (a RangeError otherwise). Sizes are checked
   in double: exact below 2^53, and anything larger exceeds every array. */
void args_need(Args *args, F32 array, double required);
/* `name` must be at least `min` (a RangeError otherwise) */
void args_at_least(Args *args, const char *name, int64_t value, int64_t min);
/* Throws a RangeError "stitch_native.<fn>: <name> <detail>" unless the call already failed. */
void args_range_error(Args *args, const char *name, const char *detail);

napi_value make_number(napi_env env, double value);

#endif
