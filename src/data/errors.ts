/**
 * A data file that cannot be used at all (missing, truncated, corrupt, wrong type or shape).
 * The message is one line that names the file and, where known, the key and index at fault,
 * so that the CLI can print it as it is.
 */
export class DataFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly key?: string,
  ) {
    super(`${file}${key === undefined ? '' : ` [${key}]`}: ${problem}`);
    this.name = 'DataFileError';
  }
}
