import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { cpioNewc, resolveModules } from './initramfs.js';

const DEP = `kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/net/9p/9pnet.ko:
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/netfs/netfs.ko:
kernel/drivers/block/virtio-blk.ko: kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio.ko:
`;

describe('resolveModules', () => {
	test('puts every module after its dependencies, each once', () => {
		const order = resolveModules(DEP, ['9p']);
		expect(order).toHaveLength(4);
		expect(order.at(-1)).toBe('kernel/fs/9p/9p.ko');
		expect(order.indexOf('kernel/fs/netfs/netfs.ko')).toBeLessThan(order.indexOf('kernel/fs/fscache/fscache.ko'));
	});

	test('treats - and _ in module names alike', () => {
		expect(resolveModules(DEP, ['virtio_blk'])).toEqual(['kernel/drivers/virtio/virtio.ko', 'kernel/drivers/block/virtio-blk.ko']);
	});

	test('names a module that is not there', () => {
		expect(() => resolveModules(DEP, ['nosuch'])).toThrow(/module nosuch is not in modules.dep/);
	});

	test('reports a dependency cycle instead of recursing forever', () => {
		expect(() => resolveModules('a.ko: b.ko\nb.ko: a.ko\n', ['a'])).toThrow(/cycle/);
	});
});

describe('cpioNewc', () => {
	test('writes an archive that GNU cpio lists and extracts byte for byte', () => {
		const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-cpio-'));
		try {
			const data = Buffer.from([0, 1, 2, 255, 10, 13]);
			const archive = cpioNewc([
				{ name: 'bin', mode: 0o040755 },
				{ name: 'bin/tool', mode: 0o100755, data },
				{ name: 'bin/sh', mode: 0o120777, link: 'tool' },
			]);
			expect(archive.length % 4).toBe(0);
			const listing = execFileSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });
			expect(listing).toMatch(/^drwxr-xr-x .* bin$/m);
			expect(listing).toMatch(/^-rwxr-xr-x .* bin\/tool$/m);
			expect(listing).toMatch(/^lrwxrwxrwx .* bin\/sh -> tool$/m);
			execFileSync('cpio', ['-id', '--quiet'], { input: archive, cwd: dir });
			expect(readFileSync(path.join(dir, 'bin/tool'))).toEqual(data);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
