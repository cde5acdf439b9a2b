{
  "targets": [
    {
      "target_name": "stitch_native",
      "sources": ["native/stitch.c"],
      "cflags_c": ["-std=gnu11", "-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-lopenblas", "-lm"]
    }
  ]
}
