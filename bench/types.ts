/** One benchmark measurement: printed as a table row, or as one JSON object per line with --json. */
export interface BenchRow {
  name: string;
  [key: string]: string | number | boolean | null;
}

export interface BenchOptions {
  /** fewer repetitions, for a smoke run */
  quick: boolean;
  /** skip the PyTorch reference even when python3-torch is installed */
  noTorch: boolean;
  /** --backend webgpu: the engine section trains on the GPU, against PyTorch on CUDA when it is there */
  backend?: string;
}

export type BenchSection = (options: BenchOptions) => Promise<BenchRow[]>;
