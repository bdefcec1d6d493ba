// KVM or TCG? An existing /dev/kvm proves nothing (on nested hosts it opens, then the guest
// hangs or QEMU aborts), so the answer comes from booting the real guest under KVM once,
// with a short limit, and is cached per host kernel and QEMU version in ~/.cache.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Accel, Guest, type GuestImage } from './guest.js';
import { progress } from './paths.js';

// a working KVM guest answers in about a second; a broken one never prints a byte
const PROBE_LIMIT_MS = 8_000;

/** The answer belongs to the machine, not to one checkout: keep it in the user's cache. */
const probeCache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'kernel-security-lab', 'accel.json');

export async function chooseAccel(image: Omit<GuestImage, 'accel'>): Promise<Accel> {
	const forced = process.env.LAB_ACCEL;
	if (forced) {
		if (forced !== 'kvm' && forced !== 'tcg') throw new Error(`LAB_ACCEL must be kvm or tcg, not "${forced}"`);
		return forced;
	}
	try {
		accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
	} catch {
		return 'tcg';
	}
	const qemu = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split('\n')[0];
	const key = `${os.release()} | ${qemu}`;
	const file = probeCache;
	const cached = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Accel>) : {};
	if (cached[key]) return cached[key];

	progress('probing whether KVM really runs a guest here (once per host kernel and QEMU version)');
	let answer: Accel = 'tcg';
	const t0 = performance.now();
	try {
		const guest = await Guest.start({ ...image, accel: 'kvm' }, { bootTimeoutMs: PROBE_LIMIT_MS });
		const r = await guest.run('true', { timeoutMs: 5000 }).catch(() => undefined);
		if (r?.status === 0) answer = 'kvm';
		await guest.close();
	} catch {
		// QEMU aborted, or the guest hung and was killed at the limit: no KVM
	}
	progress(`KVM ${answer === 'kvm' ? 'works' : 'does not work'} here (${Math.round(performance.now() - t0)} ms); using ${answer}`);
	mkdirSync(path.dirname(file), { recursive: true });
	writeFileSync(file, JSON.stringify({ ...cached, [key]: answer }, null, 2));
	return answer;
}
