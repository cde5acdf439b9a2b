#!/usr/bin/env node
// Writes docs/config-reference.md from the algorithms' zod schemas. Run after `npx tsc -p tsconfig.json`;
// test/cli/conventions.test.ts fails when the committed page differs from what this writes.
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../dist/src/cli/config-fields.js';

const path = new URL('../docs/config-reference.md', import.meta.url);
writeFileSync(path, renderConfigReference());
console.log(`wrote ${path.pathname}`);
