// Once per test run: find the kernel, build the initramfs, choose the accelerator, boot one guest
// and save its state. Every test then restores its own guest from that file (a quarter of a
// second) instead of booting (about two seconds under TCG).
//
// In collect-only mode (LAB_COLLECT_ONLY=1, set by curriculum/catalogue.ts) nothing runs: vitest
// only imports the specs to read their lessons, and lesson() only reads the accelerator (for its
// time limit), so a stand-in is provided and nothing is extracted, built or booted.
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

/** Set to "1" by a caller that only collects the specs (the lesson catalogue): no guest is needed. */
export const COLLECT_ONLY_ENV = 'LAB_COLLECT_ONLY';

/**
 * What collect-only mode provides: no kernel, no initramfs, no saved state (a test that tried to
 * start a guest with it would fail at once naming this mode). The accelerator only sets time
 * limits, which a collection never reaches: LAB_ACCEL when it names one, else TCG, without the
 * KVM probe (reading its cache would mean running QEMU to learn its version).
 */
export function collectOnlyRun(env: NodeJS.ProcessEnv = process.env): LabRun {
	const none = '/nonexistent/collect-only-mode (LAB_COLLECT_ONLY=1 boots no guest)';
	const accel = env.LAB_ACCEL === 'kvm' ? 'kvm' : 'tcg';
	return { image: { vmlinux: none, initramfs: none, accel, kernelVersion: 'none', kernelBuildDir: none }, snapshot: none, coldBootMs: 0 };
}

declare module 'vitest' {
	export interface ProvidedContext {
		lab: LabRun;
	}
}

export default async function setup(project: TestProject): Promise<() => void> {
	if (process.env[COLLECT_ONLY_ENV] === '1') {
		project.provide('lab', collectOnlyRun());
		return () => {};
	}
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
