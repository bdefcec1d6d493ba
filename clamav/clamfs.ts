// Mount clamfs in a guest with the student's configuration (clamfs-config.ts), wait until the
// mount is there, and take it down again. clamfs runs from the host root, like clamd.
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Running } from '../guest/guest.js';
import type { LabGuest } from '../guest/lab-guest.js';
import { sourceRoot } from '../guest/paths.js';
import type { ClamfsOptions } from './clamfs-config.js';

/** clamfs did not mount: the message holds its own output and the configuration it was given. */
export class ClamfsMountError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'ClamfsMountError';
	}
}

export interface MountedClamfs {
	config: string;
	/** The XML the student's clamfsConfig() wrote. */
	configText: string;
	process: Running;
	/** fusermount3 -u, then wait for clamfs to exit. */
	unmount(): Promise<void>;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The student's clamfsConfig(), from the source tree under test. */
export async function studentClamfsConfig(): Promise<(o: ClamfsOptions) => string> {
	// the real path and a content hash: a source root that is a link switched between trees, or
	// an edited file, must never be served from the module cache
	const file = realpathSync(path.join(sourceRoot, 'clamav', 'clamfs-config.ts'));
	const version = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
	const module = (await import(`${pathToFileURL(file).href}?v=${version}`)) as { clamfsConfig?: unknown };
	if (typeof module.clamfsConfig !== 'function') throw new TypeError(`${file} should export a function clamfsConfig`);
	return module.clamfsConfig as (o: ClamfsOptions) => string;
}

/** Load fuse, write the configuration, start clamfs and wait for its mount. */
export async function mountClamfs(guest: LabGuest, options: ClamfsOptions, limitMs = 30_000): Promise<MountedClamfs> {
	let configText: string;
	try {
		configText = (await studentClamfsConfig())(options);
	} catch (e) {
		throw new ClamfsMountError(`clamfsConfig() in clamav/clamfs-config.ts failed: ${(e as Error).message}`);
	}
	const config = `/run/lab-clamfs/${path.basename(options.mountpoint)}.xml`;
	const prep = await guest.run(`modprobe fuse && mkdir -p ${q(options.root)} ${q(options.mountpoint)} /run/lab-clamfs`);
	if (prep.status !== 0) throw new Error(`preparing the clamfs mount failed: ${prep.output}`);
	await guest.put(config, configText);
	const clamfs = guest.spawn(`exec clamfs ${q(config)}`, { timeoutMs: Infinity });
	const mounted = `grep -q ${q(` ${options.mountpoint} fuse.clamfs `)} /proc/mounts`;
	const deadline = performance.now() + guest.ms(limitMs);
	let exited: { status: number; output: string } | undefined;
	clamfs.result.then((r) => (exited = r), () => {});
	for (;;) {
		// clamfs may fork into the background (status 0): then only the mount tells
		if (exited && exited.status !== 0) {
			throw new ClamfsMountError(`clamfs exited with status ${exited.status} instead of mounting ${options.mountpoint}:\n${exited.output.trim()}\n--- the configuration ---\n${configText}`);
		}
		if ((await guest.run(mounted)).status === 0) break;
		if (performance.now() > deadline) {
			clamfs.kill(9);
			throw new ClamfsMountError(`clamfs did not mount ${options.mountpoint} within ${guest.ms(limitMs)} ms; its output:\n${clamfs.output().trim()}\n--- the configuration ---\n${configText}`);
		}
		await new Promise((r) => setTimeout(r, 50));
	}
	return {
		config,
		configText,
		process: clamfs,
		unmount: async () => {
			await guest.run(`fusermount3 -u ${q(options.mountpoint)} || umount -l ${q(options.mountpoint)}`);
			clamfs.kill(15);
			await clamfs.result.catch(() => {});
		},
	};
}
