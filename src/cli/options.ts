/**
 * Option spellings shared by the commands. One spelling per meaning across `stitch`
 * (docs/cli.md): `--eval-episodes`, `--eval-envs` wherever episodes are run, `--out` for every
 * output path. Older spellings stay accepted as hidden aliases so scripts keep working.
 */
import { Option, type Command } from 'commander';
import { UserError } from './errors.js';

/** adds `--old <value>` as a hidden alias (commander keeps its value under its own name) */
export function addHiddenAlias(command: Command, flags: string, meaning: string): Command {
  return command.addOption(new Option(flags, `${meaning} (older spelling)`).hideHelp());
}

/**
 * The value given under either spelling; both given with different values is a UserError
 * rather than a silent choice.
 */
export function eitherSpelling(current: { flag: string; value: string | undefined }, older: { flag: string; value: string | undefined }): string | undefined {
  if (current.value !== undefined && older.value !== undefined && current.value !== older.value) {
    throw new UserError(`${older.flag} is the older spelling of ${current.flag}; give one of them (got ${current.value} and ${older.value})`);
  }
  return current.value ?? older.value;
}
