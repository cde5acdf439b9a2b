/** `stitch info` lists the WebGPU adapters with their key limits, or says in one line why there is none. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requestNodeDevice } from '../../src/engine/webgpu/node.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function info(env: Record<string, string>): { status: number | null; stdout: string } {
  const result = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout };
}

describe('stitch info and WebGPU', () => {
  it('says there is no adapter when Vulkan finds no driver, and still succeeds', () => {
    const { status, stdout } = info({ VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    assert.equal(status, 0);
    assert.match(stdout, /^stitch: (native|js) backend/m);
    assert.match(stdout, /^webgpu: (no adapter|unavailable \(the optional package "webgpu")/m);
  });

  it('lists the adapter with its limits when there is one', async (context) => {
    const found = await requestNodeDevice();
    if (!found.ok) {
      if (process.env.STITCH_REQUIRE_WEBGPU === '1') assert.fail(found.reason);
      context.skip(`no WebGPU device: ${found.reason}`);
      return;
    }
    found.device.destroy();
    const { status, stdout } = info({});
    assert.equal(status, 0);
    assert.match(stdout, /^webgpu: .+/m);
    assert.match(stdout, /^ {2}max buffer \d+ MiB, max storage binding \d+ MiB, workgroup memory \d+ B, \d+ invocations per workgroup$/m);
    assert.match(stdout, /^ {2}optional features: /m);
  });
});
