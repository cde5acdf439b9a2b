{
  "targets": [
    {
      "target_name": "stitch_native",
      "sources": [
        "native/napi/addon.c",
        "native/napi/args.c",
        "native/kernels/activation.c",
        "native/kernels/attention.c",
        "native/kernels/dropout.c",
        "native/kernels/elementwise.c",
        "native/kernels/embedding.c",
        "native/kernels/gemm.c",
        "native/kernels/layernorm.c",
        "native/kernels/optim.c",
        "native/kernels/threads.c"
      ],
      "include_dirs": ["native/kernels"],
      "cflags_c": ["-std=gnu11", "-O3", "-fopenmp", "-fvisibility=hidden", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-lopenblas", "-lm"]
    }
  ]
}
