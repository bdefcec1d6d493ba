import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { compareKernelVersions, extractVmlinux, usableKernels } from './kernel.js';

describe('choosing the kernel', () => {
	test('orders Debian versions numerically', () => {
		const sorted = ['6.1.0-9-amd64', '6.1.0-57-amd64', '6.10.0-1-amd64', '5.10.0-30-amd64'].sort(compareKernelVersions);
		expect(sorted).toEqual(['5.10.0-30-amd64', '6.1.0-9-amd64', '6.1.0-57-amd64', '6.10.0-1-amd64']);
	});

	test('only offers kernels that have both an image and headers', () => {
		const root = mkdtempSync(path.join(os.tmpdir(), 'lab-kernels-'));
		try {
			const boot = path.join(root, 'boot');
			const modules = path.join(root, 'modules');
			mkdirSync(boot);
			for (const v of ['6.1.0-1-amd64', '6.1.0-2-amd64', '6.1.0-3-amd64']) writeFileSync(path.join(boot, `vmlinuz-${v}`), '');
			for (const v of ['6.1.0-1-amd64', '6.1.0-2-amd64']) {
				mkdirSync(path.join(modules, v), { recursive: true });
				writeFileSync(path.join(modules, v, 'modules.dep'), '');
			}
			mkdirSync(path.join(modules, '6.1.0-1-amd64', 'build'));
			writeFileSync(path.join(modules, '6.1.0-1-amd64', 'build', 'Makefile'), '');
			// 6.1.0-2 has no headers, 6.1.0-3 no modules: neither is usable
			expect(usableKernels(boot, modules)).toEqual(['6.1.0-1-amd64']);
		} finally {
			rmSync(root, { recursive: true, force: true });
		}
	});

	test('refuses an image without an XZ payload', () => {
		const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-bz-'));
		try {
			const file = path.join(dir, 'vmlinuz');
			writeFileSync(file, Buffer.alloc(4096, 0x41));
			expect(() => extractVmlinux(file)).toThrow(/no XZ stream/);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
