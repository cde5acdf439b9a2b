/* The argument helpers of args.h: every error message of the addon is made here. */
#include "args.h"

#include <math.h>
#include <stdio.h>

static void fail_type(Args *args, const char *name, const char *expected) {
  if (args->failed) return;
  char message[256];
  snprintf(message, sizeof message, "stitch_native.%s: %s must be %s", args->fn, name, expected);
  napi_throw_type_error(args->env, NULL, message);
  args->failed = true;
}

void args_range_error(Args *args, const char *name, const char *detail) {
  if (args->failed) return;
  char message[320];
  snprintf(message, sizeof message, "stitch_native.%s: %s %s", args->fn, name, detail);
  napi_throw_range_error(args->env, NULL, message);
  args->failed = true;
}

void args_open(Args *args, napi_env env, napi_callback_info info, const char *fn, size_t expected) {
  args->env = env;
  args->fn = fn;
  args->failed = false;
  /* napi_get_cb_info fills argv up to `expected` (undefined past the arguments given) */
  size_t argc = expected;
  if (expected > ARGS_MAX || napi_get_cb_info(env, info, &argc, args->argv, NULL, NULL) != napi_ok) {
    fail_type(args, "arguments", "readable");
    return;
  }
  if (argc < expected) {
    char detail[64];
    snprintf(detail, sizeof detail, "%zu arguments (got %zu)", expected, argc);
    fail_type(args, "the call", detail);
  }
}

static bool typed_array(Args *args, size_t at, const char *name, napi_typedarray_type want, const char *want_name,
                        void **data, size_t *length) {
  *data = NULL;
  *length = 0;
  if (args->failed) return false;
  bool is_typed = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(args->env, args->argv[at], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(args->env, args->argv[at], &type, length, data, NULL, NULL) != napi_ok || type != want) {
    *data = NULL;
    *length = 0;
    fail_type(args, name, want_name);
    return false;
  }
  return true;
}

F32 args_f32(Args *args, size_t at, const char *name) {
  F32 array = {NULL, 0, name};
  void *data;
  if (typed_array(args, at, name, napi_float32_array, "a Float32Array", &data, &array.length)) array.data = data;
  return array;
}

F32 args_f32_or_null(Args *args, size_t at, const char *name) {
  F32 array = {NULL, 0, name};
  napi_valuetype kind;
  if (args->failed || (napi_typeof(args->env, args->argv[at], &kind) == napi_ok && kind == napi_null)) return array;
  void *data;
  if (typed_array(args, at, name, napi_float32_array, "a Float32Array or null", &data, &array.length)) array.data = data;
  return array;
}

I32 args_i32(Args *args, size_t at, const char *name) {
  I32 array = {NULL, 0, name};
  void *data;
  if (typed_array(args, at, name, napi_int32_array, "an Int32Array", &data, &array.length)) array.data = data;
  return array;
}

double args_number(Args *args, size_t at, const char *name) {
  napi_valuetype kind;
  double value = 0;
  if (args->failed) return 0;
  if (napi_typeof(args->env, args->argv[at], &kind) != napi_ok || kind != napi_number) {
    fail_type(args, name, "a number");
    return 0;
  }
  napi_get_value_double(args->env, args->argv[at], &value);
  return value;
}

bool args_bool(Args *args, size_t at, const char *name) {
  napi_valuetype kind;
  bool value = false;
  if (args->failed) return false;
  if (napi_typeof(args->env, args->argv[at], &kind) != napi_ok || kind != napi_boolean) {
    fail_type(args, name, "a boolean");
    return false;
  }
  napi_get_value_bool(args->env, args->argv[at], &value);
  return value;
}

int64_t args_int(Args *args, size_t at, const char *name, double min, double max) {
  double number = args_number(args, at, name);
  if (args->failed) return 0;
  if (!(number >= min && number <= max) || number != floor(number)) {
    char detail[96];
    snprintf(detail, sizeof detail, "must be an integer in [%.0f, %.0f] (got %g)", min, max, number);
    args_range_error(args, name, detail);
    return 0;
  }
  return (int64_t)number;
}

int64_t args_dim(Args *args, size_t at, const char *name) { return args_int(args, at, name, 0, MAX_DIM); }

int64_t args_count(Args *args, size_t at, const char *name) { return args_int(args, at, name, 0, MAX_COUNT); }

uint32_t args_seed(Args *args, size_t at, const char *name) { return (uint32_t)args_int(args, at, name, 0, 4294967295.0); }

double args_probability(Args *args, size_t at, const char *name) {
  double p = args_number(args, at, name);
  if (args->failed) return 0;
  if (!(p >= 0 && p <= 1)) {
    args_range_error(args, name, "must be a probability in [0, 1]");
    return 0;
  }
  return p;
}

void args_need(Args *args, F32 array, double required) {
  if (args->failed || (double)array.length >= required) return;
  char detail[128];
  snprintf(detail, sizeof detail, "has %zu elements, needs at least %.0f", array.length, required);
  args_range_error(args, array.name, detail);
}

void args_at_least(Args *args, const char *name, int64_t value, int64_t min) {
  if (args->failed || value >= min) return;
  char detail[96];
  snprintf(detail, sizeof detail, "must be >= %lld (got %lld)", (long long)min, (long long)value);
  args_range_error(args, name, detail);
}

napi_value make_number(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}
