import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, test } from 'vitest';
import { repoRoot } from '../guest/paths.js';
// @ts-expect-error: plain JavaScript (it runs before node_modules exists)
import { DEBIAN_PACKAGES, missingPackages } from './bootstrap.mjs';

test('the bootstrap finds every course package installed on this machine', () => {
	expect(missingPackages(DEBIAN_PACKAGES)).toEqual([]);
});

test('the bootstrap reports a package that is not installed', () => {
	expect(missingPackages(['coreutils', 'no-such-package-lab'])).toEqual(['no-such-package-lab']);
});

test('with everything in place the bootstrap installs nothing and says nothing', () => {
	const t0 = performance.now();
	const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts/bootstrap.mjs')], { encoding: 'utf8' });
	// a figure, not a limit: speed is measured, not asserted
	console.log(`bootstrap with everything present: ${(performance.now() - t0).toFixed(0)} ms`);
	expect(r.status).toBe(0);
	expect(r.stderr + r.stdout).toBe('');
});
