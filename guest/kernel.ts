// The guest kernel: Debian's own, the newest one installed with matching headers.
// Under TCG most of a bzImage boot is spent in its XZ decompressor, so the uncompressed ELF
// vmlinux is extracted once per kernel version and booted directly (PVH entry point).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cachePath, progress } from './paths.js';

export interface GuestKernel {
	version: string;
	bzImage: string;
	vmlinux: string;
	/** /lib/modules/VERSION */
	modulesDir: string;
	/** Kbuild tree for out-of-tree modules */
	buildDir: string;
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Compare Debian kernel versions such as 6.1.0-57-amd64 (numeric parts numerically). */
export function compareKernelVersions(a: string, b: string): number {
	const pa = a.split(/[.-]/);
	const pb = b.split(/[.-]/);
	for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
		const x = pa[i] ?? '';
		const y = pb[i] ?? '';
		const nx = Number(x);
		const ny = Number(y);
		const d = Number.isInteger(nx) && Number.isInteger(ny) && x !== '' && y !== '' ? nx - ny : x.localeCompare(y);
		if (d !== 0) return d;
	}
	return 0;
}

/** Kernels that can be used: an image in /boot and a Kbuild tree under /lib/modules/VER/build. */
export function usableKernels(boot = '/boot', modules = '/lib/modules'): string[] {
	if (!existsSync(boot)) return [];
	return readdirSync(boot)
		.filter((f) => f.startsWith('vmlinuz-'))
		.map((f) => f.slice('vmlinuz-'.length))
		.filter((v) => existsSync(path.join(modules, v, 'build', 'Makefile')) && existsSync(path.join(modules, v, 'modules.dep')))
		.sort(compareKernelVersions);
}

export function pickKernelVersion(): string {
	const wanted = process.env.LAB_KERNEL;
	const usable = usableKernels();
	if (wanted) {
		if (!usable.includes(wanted)) {
			throw new Error(
				`LAB_KERNEL=${wanted}, but that kernel is not usable: it needs /boot/vmlinuz-${wanted}, ` +
					`/lib/modules/${wanted}/modules.dep and /lib/modules/${wanted}/build (linux-headers-${wanted}). ` +
					`Usable here: ${usable.join(', ') || 'none'}.`,
			);
		}
		return wanted;
	}
	const newest = usable.at(-1);
	if (!newest) {
		throw new Error(
			'No kernel with both its image and its headers is installed. Run: apt-get install linux-image-amd64 linux-headers-amd64',
		);
	}
	return newest;
}

/** The uncompressed ELF inside a Debian (XZ-compressed) bzImage. */
export function extractVmlinux(bzImage: string): Buffer {
	let image: Buffer;
	try {
		image = readFileSync(bzImage);
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
		throw new Error(`cannot read ${bzImage}: Debian keeps kernel images readable by root only. Run the first \`npm test\` as root (the extracted kernel is cached), or: sudo chmod a+r ${bzImage}`);
	}
	const at = image.indexOf(XZ_MAGIC);
	if (at < 0) throw new Error(`${bzImage}: no XZ stream found; only XZ-compressed kernels (Debian's) are supported`);
	// --single-stream: the bzImage goes on after the XZ stream; xz would call that trailing garbage.
	const elf = execFileSync('xz', ['-dc', '--single-stream'], { input: image.subarray(at), maxBuffer: 1 << 30 });
	if (!elf.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
		throw new Error(`${bzImage}: the decompressed payload is not an ELF vmlinux`);
	}
	return elf;
}

export function guestKernel(): GuestKernel {
	const version = pickKernelVersion();
	const bzImage = `/boot/vmlinuz-${version}`;
	const vmlinux = cachePath('kernel', version, 'vmlinux');
	if (!existsSync(vmlinux)) {
		progress(`extracting the uncompressed kernel from ${bzImage} (once per kernel version)`);
		const tmp = `${vmlinux}.${process.pid}.tmp`;
		writeFileSync(tmp, extractVmlinux(bzImage));
		renameSync(tmp, vmlinux);
	}
	const modulesDir = `/lib/modules/${version}`;
	return { version, bzImage, vmlinux, modulesDir, buildDir: path.join(modulesDir, 'build') };
}
