// Once per test run: find the kernel, build the initramfs, choose the accelerator, boot one guest
// and save its state. Every test then restores its own guest from that file (a quarter of a
// second) instead of booting (about two seconds under TCG).
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { chooseAccel } from './accel.js';
import { Guest, type GuestImage } from './guest.js';
import { buildInitramfs } from './initramfs.js';
import { guestKernel } from './kernel.js';
import { progress } from './paths.js';
import { ownedTempDir, sweepAbandoned } from './scratch.js';

export interface LabRun {
	image: GuestImage;
	/** The saved state of a freshly booted default guest. */
	snapshot: string;
	coldBootMs: number;
}

declare module 'vitest' {
	export interface ProvidedContext {
		lab: LabRun;
	}
}

export default async function setup(project: TestProject): Promise<() => void> {
	const kernel = guestKernel();
	const initramfs = buildInitramfs(kernel);
	const base = { vmlinux: kernel.vmlinux, bzImage: kernel.bzImage, initramfs, kernelVersion: kernel.version, kernelBuildDir: kernel.buildDir };
	const image: GuestImage = { ...base, accel: await chooseAccel(base) };
	const abandoned = sweepAbandoned();
	if (abandoned.length) progress(`removed ${abandoned.length} temporary folder(s) left by runs that were killed`);
	const dir = ownedTempDir('lab-run-');
	const snapshot = path.join(dir, 'default.state');
	progress(`booting the guest (${kernel.version}, ${image.accel}) and saving its state`);
	const guest = await Guest.start(image);
	try {
		await guest.saveState(snapshot);
	} finally {
		await guest.close();
	}
	progress(`guest ready: cold boot to first command ${Math.round(guest.bootMs)} ms`);
	project.provide('lab', { image, snapshot, coldBootMs: guest.bootMs });
	return () => rmSync(dir, { recursive: true, force: true });
}
