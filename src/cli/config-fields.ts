/**
 * Each algorithm's config fields, read from its zod schema (through zod's JSON Schema export, so
 * types, ranges, choices and defaults are the ones validation uses): the keys `--set` accepts,
 * with the closest one suggested for a typo, and the generated page docs/config-reference.md
 * (`node scripts/config-reference.mjs`; a test fails when the committed page is stale).
 */
import { closest } from 'fastest-levenshtein';
import { z } from 'zod';
import type { AnyAlgorithmDefinition } from '../algos/algorithm.js';
import { algorithmNames, findAlgorithm } from '../algos/registry.js';
import { UserError } from './errors.js';

/** JSON Schema, as much of it as zod writes for our config fields */
interface FieldSchema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: FieldSchema[];
  items?: FieldSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  default?: unknown;
}

export interface ConfigField {
  name: string;
  /** e.g. "integer in [1, 341]", "relu | gelu_tanh | gelu_erf", "number > 0 or null" */
  type: string;
  /** JSON text of the default */
  defaultValue: string;
  /** the presets that set this field */
  presets: string[];
}

function isFieldSchema(value: unknown): value is FieldSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(schema: FieldSchema): string {
  if (schema.anyOf !== undefined) return schema.anyOf.map(describeType).join(' or ');
  if (schema.enum !== undefined) return schema.enum.map((value) => (value === null ? 'null' : String(value))).join(' | ');
  if (Array.isArray(schema.type)) return schema.type.map((type) => describeType({ ...schema, type })).join(' or ');
  if (schema.type === 'array') return `array of ${schema.items === undefined ? 'values' : describeType(schema.items)}${schema.minItems === undefined ? '' : `, at least ${schema.minItems}`}`;
  const type = schema.type ?? 'any';
  if (type !== 'integer' && type !== 'number') return type;
  // zod writes Number.MAX_SAFE_INTEGER as the maximum of every int(); that is no real bound
  const maximum = schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER ? schema.maximum : undefined;
  const low = schema.minimum !== undefined ? `>= ${schema.minimum}` : schema.exclusiveMinimum !== undefined ? `> ${schema.exclusiveMinimum}` : undefined;
  const high = maximum !== undefined ? `<= ${maximum}` : schema.exclusiveMaximum !== undefined ? `< ${schema.exclusiveMaximum}` : undefined;
  if (schema.minimum !== undefined && maximum !== undefined) return `${type} in [${schema.minimum}, ${maximum}]`;
  return [type, low, high].filter((part) => part !== undefined).join(' ');
}

/** the fields of an algorithm's config, in schema order */
export function algorithmFields(definition: AnyAlgorithmDefinition): ConfigField[] {
  const schema = z.toJSONSchema(definition.configSchema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown> };
  return Object.entries(schema.properties ?? {}).map(([name, field]) => {
    const fieldSchema = isFieldSchema(field) ? field : {};
    return {
      name,
      type: describeType(fieldSchema),
      defaultValue: fieldSchema.default === undefined ? '(required)' : JSON.stringify(fieldSchema.default),
      presets: Object.entries(definition.presets).filter(([, preset]) => Object.hasOwn(preset, name)).map(([id]) => id),
    };
  });
}

/**
 * Refuses `--set` keys the algorithm does not have, listing the valid ones and the closest
 * (what the schema's own "Unrecognized key" does not say).
 */
export function checkOverrideKeys(algo: string, overrides: Record<string, unknown>): void {
  const definition = findAlgorithm(algo);
  if (definition === undefined) return; // the run config names unknown algorithms itself
  const names = algorithmFields(definition).map((field) => field.name);
  for (const key of Object.keys(overrides)) {
    if (names.includes(key)) continue;
    throw new UserError(`invalid ${definition.name} config: --set ${key}: no such field (did you mean ${closest(key, names)}?); valid: ${names.join(', ')} (docs/config-reference.md)`);
  }
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** the text of docs/config-reference.md */
export function renderConfigReference(): string {
  const lines = [
    '# Config fields of each algorithm',
    '',
    '<!-- generated from the zod schemas by `node scripts/config-reference.mjs` (after `npx tsc`); do not edit by hand: test/cli/conventions.test.ts fails when this page is stale -->',
    '',
    'Every field below can be set with `stitch train --algo NAME --set FIELD=VALUE` (the value is read',
    'as JSON: numbers, booleans, arrays, null; numbers separated by commas as a list, e.g.',
    '`targetReturns=300,150`; anything else as text), and in the `algorithm` object of',
    'a config file given to `--config`. A preset for the dataset id is applied first, then `--set`.',
    'The meaning of each field: the algorithm\'s page in [algorithms/](algorithms/).',
    '',
  ];
  for (const name of algorithmNames()) {
    const definition = findAlgorithm(name);
    if (definition === undefined) continue;
    lines.push(`## ${name}`, '', definition.description, '', '| field | type | default | set by presets |', '|---|---|---|---|');
    for (const field of algorithmFields(definition)) {
      const presets = field.presets.length === 0 ? '' : field.presets.length > 3 ? `${field.presets.length} presets (${field.presets.slice(0, 2).join(', ')}, ...)` : field.presets.join(', ');
      lines.push(`| \`${field.name}\` | ${cell(field.type)} | \`${cell(field.defaultValue)}\` | ${cell(presets)} |`);
    }
    lines.push('', `Presets: ${Object.keys(definition.presets).join(', ') || 'none'}.`, '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
