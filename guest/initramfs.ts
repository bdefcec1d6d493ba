// The guest's initramfs: busybox, the static agent, our insmod, init, and the kernel modules the
// harness needs (virtio-serial for the control port, 9p for the host root), in load order.
// Built in memory as a newc cpio archive and cached by the hash of everything that goes in.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { GuestKernel } from './kernel.js';
import { cachePath, progress, repoRoot } from './paths.js';

/** Modules the harness itself needs; their dependencies come from modules.dep. */
export const HARNESS_MODULES = ['virtio_pci', 'virtio_console', '9pnet_virtio', '9p'];

const BUSYBOX = '/bin/busybox';
const AGENT_SOURCE = path.join(repoRoot, 'guest', 'agent', 'agent.c');
/** Replaces busybox's insmod, which runs a failing module's init twice (guest/agent/insmod.c). */
const INSMOD_SOURCE = path.join(repoRoot, 'guest', 'agent', 'insmod.c');
const INIT = path.join(repoRoot, 'guest', 'init.sh');
const MOUNT_HOSTROOT = path.join(repoRoot, 'guest', 'mount-hostroot.sh');

/**
 * Module files (relative to /lib/modules/VER) in an order insmod can load them:
 * every module after all of its dependencies.
 */
export function resolveModules(modulesDep: string, names: string[]): string[] {
	const deps = new Map<string, string[]>();
	const byName = new Map<string, string>();
	for (const line of modulesDep.split('\n')) {
		const colon = line.indexOf(':');
		if (colon < 0) continue;
		const file = line.slice(0, colon);
		deps.set(file, line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
		const name = path.basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
		byName.set(name, file);
	}
	const order: string[] = [];
	const visit = (file: string, chain: string[]) => {
		if (order.includes(file)) return;
		if (chain.includes(file)) throw new Error(`modules.dep has a cycle: ${[...chain, file].join(' -> ')}`);
		for (const dep of deps.get(file) ?? []) visit(dep, [...chain, file]);
		order.push(file);
	};
	for (const name of names) {
		const file = byName.get(name.replace(/-/g, '_'));
		if (!file) throw new Error(`module ${name} is not in modules.dep (is it built into this kernel, or missing?)`);
		visit(file, []);
	}
	return order;
}

interface Entry {
	name: string;
	mode: number;
	data?: Buffer;
	link?: string;
}

/** A newc ("070701") cpio archive, all files owned by root. */
export function cpioNewc(entries: Entry[]): Buffer {
	const parts: Buffer[] = [];
	const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
	let ino = 1;
	const push = (name: string, mode: number, body: Buffer) => {
		const hex = (v: number) => v.toString(16).padStart(8, '0');
		const nameBytes = Buffer.from(`${name}\0`);
		const header =
			'070701' +
			[ino++, mode, 0, 0, mode & 0o040000 ? 2 : 1, 0, body.length, 0, 0, 0, 0, nameBytes.length, 0].map(hex).join('');
		parts.push(Buffer.from(header), nameBytes, pad(110 + nameBytes.length), body, pad(body.length));
	};
	for (const e of entries) push(e.name, e.mode, e.link !== undefined ? Buffer.from(e.link) : (e.data ?? Buffer.alloc(0)));
	push('TRAILER!!!', 0, Buffer.alloc(0));
	return Buffer.concat(parts);
}

function sha(...inputs: (string | Buffer)[]): string {
	const h = createHash('sha256');
	for (const i of inputs) h.update(i).update('\0');
	return h.digest('hex').slice(0, 16);
}

/** A static program of guest/agent/, compiled once per source version. */
function buildStatic(source: string, name: string): string {
	const text = readFileSync(source);
	const out = cachePath(name, sha(text), name);
	if (!existsSync(out)) {
		progress(`building the guest's ${name} (static C)`);
		const tmp = `${out}.${process.pid}.tmp`;
		execFileSync('gcc', ['-O2', '-static', '-Wall', '-Wextra', '-Werror', '-o', tmp, source], { stdio: 'pipe' });
		renameSync(tmp, out);
	}
	return out;
}

/** The static agent. */
export const buildAgent = (): string => buildStatic(AGENT_SOURCE, 'lab-agent');

export function buildInitramfs(kernel: GuestKernel): string {
	const agent = readFileSync(buildAgent());
	const insmod = readFileSync(buildStatic(INSMOD_SOURCE, 'insmod'));
	const busybox = readFileSync(BUSYBOX);
	const init = readFileSync(INIT);
	const mountHostroot = readFileSync(MOUNT_HOSTROOT);
	const modules = resolveModules(readFileSync(path.join(kernel.modulesDir, 'modules.dep'), 'utf8'), HARNESS_MODULES);
	const moduleData = modules.map((m) => readFileSync(path.join(kernel.modulesDir, m)));
	const out = cachePath('initramfs', `${sha(agent, insmod, busybox, init, mountHostroot, kernel.version, ...moduleData)}.cpio`);
	if (existsSync(out)) return out;

	progress(`building the guest initramfs (busybox, agent, ${modules.length} modules)`);
	const entries: Entry[] = [];
	const dirs = new Set<string>();
	const dir = (d: string) => {
		const parts = d.split('/');
		for (let i = 1; i <= parts.length; i++) {
			const p = parts.slice(0, i).join('/');
			if (!dirs.has(p)) {
				dirs.add(p);
				entries.push({ name: p, mode: 0o040755 });
			}
		}
	};
	for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'host']) dir(d);
	entries.push({ name: 'bin/busybox', mode: 0o100755, data: busybox });
	const applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
	const names = new Set(['bin/busybox', 'sbin/insmod']);
	for (const applet of applets) {
		if (names.has(applet)) continue;
		names.add(applet);
		dir(path.dirname(applet));
		entries.push({ name: applet, mode: 0o120777, link: '/bin/busybox' });
	}
	entries.push({ name: 'init', mode: 0o100755, data: init });
	entries.push({ name: 'bin/lab-agent', mode: 0o100755, data: agent });
	entries.push({ name: 'sbin/insmod', mode: 0o100755, data: insmod });
	entries.push({ name: 'bin/lab-mount-hostroot', mode: 0o100755, data: mountHostroot });
	modules.forEach((m, i) => {
		const name = `lib/modules/${kernel.version}/${m}`;
		dir(path.dirname(name));
		entries.push({ name, mode: 0o100644, data: moduleData[i] });
	});
	const order = modules.map((m) => `/lib/modules/${kernel.version}/${m}\n`).join('');
	entries.push({ name: 'etc/lab-modules', mode: 0o100644, data: Buffer.from(order) });

	const tmp = `${out}.${process.pid}.tmp`;
	writeFileSync(tmp, cpioNewc(entries));
	renameSync(tmp, out);
	return out;
}
