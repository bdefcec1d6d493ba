// The guest image every group uses, made the way guest/global-setup.ts makes it for a test run:
// the newest kernel, the initramfs, the accelerator a probe chose; and a saved state to restore.
import path from 'node:path';
import { chooseAccel } from '../guest/accel.js';
import { Guest, type GuestImage } from '../guest/guest.js';
import { buildInitramfs } from '../guest/initramfs.js';
import { guestKernel } from '../guest/kernel.js';

export interface BenchImage {
	image: GuestImage;
	/** The compressed kernel, for the naive recipe. */
	bzImage: string;
}

export async function benchImage(): Promise<BenchImage> {
	const kernel = guestKernel();
	const initramfs = buildInitramfs(kernel);
	const base = { vmlinux: kernel.vmlinux, initramfs, kernelVersion: kernel.version, kernelBuildDir: kernel.buildDir };
	return { image: { ...base, accel: await chooseAccel(base) }, bzImage: kernel.bzImage };
}

/** Boot a guest (default memory unless `memoryMiB`) and save its state into `dir`; returns the state file. */
export async function saveSnapshot(image: GuestImage, dir: string, memoryMiB?: number): Promise<string> {
	const file = path.join(dir, `${memoryMiB ?? 'default'}.state`);
	const guest = await Guest.start(image, { memoryMiB });
	try {
		await guest.saveState(file);
	} finally {
		await guest.close();
	}
	return file;
}
