// Shared by the chapter 4 specs: loading execgate, the specs' own relay (devrelay), reading the
// module's log lines, and the query line of /dev/execgate.
import path from 'node:path';
import { expect } from 'vitest';
import { buildProgram } from '../../guest/build.js';
import type { Running } from '../../guest/guest.js';
import { GUEST_WORKDIR, type LabGuest, type LoadedModule } from '../../guest/lab-guest.js';
import { repoRoot } from '../../guest/paths.js';

export const MODULE = 'execgate';
export const DEVICE = '/dev/execgate';
export const PARAMS = `/sys/module/${MODULE}/parameters`;

/** The files of the module, for lesson metadata. */
export const moduleFile = (name: string) => `kernel/${MODULE}/${name}`;

/** Load execgate with these parameters; the load must succeed and build without warnings. */
export async function loadExecgate(guest: LabGuest, params = ''): Promise<LoadedModule> {
	const load = await guest.insmod(MODULE, params);
	expect(load.module.build.warnings, 'the module should build without warnings').toEqual([]);
	expect(load.status, `insmod ${MODULE} ${params} should succeed, but it printed: ${load.output.trim() || '(nothing)'}\n--- dmesg ---\n${await moduleLog(guest)}`).toBe(0);
	return load.module;
}

/** The module's own lines in the kernel log, without the "execgate: " prefix. */
export async function moduleLog(guest: LabGuest): Promise<string> {
	const prefix = `${MODULE}: `;
	return (await guest.dmesg())
		.split('\n')
		.filter((l) => l.startsWith(prefix))
		.map((l) => l.slice(prefix.length))
		.join('\n');
}

/** Set a writable module parameter (the policy ones are 0644). */
export async function setParam(guest: LabGuest, name: string, value: string | number): Promise<void> {
	const r = await guest.run(`echo ${value} > ${PARAMS}/${name}`);
	expect(r.status, `setting ${name}=${value}: ${r.output}`).toBe(0);
}

/**
 * Build one of the specs' own programs (fixtures/lsm/<name>, static, from the repository even
 * when LAB_SOURCE_ROOT points at starters) and upload it; returns its guest path.
 */
export async function prepareFixture(guest: LabGuest, name: 'devrelay' | 'hello-exec', guestPath = `${GUEST_WORKDIR}/${name}`): Promise<string> {
	const built = await buildProgram(path.join(repoRoot, 'fixtures', 'lsm', name), { static: true });
	expect(built.warnings, `fixtures/lsm/${name} builds without warnings`).toEqual([]);
	await guest.upload(built.file, guestPath);
	return guestPath;
}

/** One query line of /dev/execgate, parsed strictly: "Q <serial> <pid> <fd> <hex path|->". */
export interface QueryLine {
	serial: number;
	pid: number;
	fd: number;
	/** The path's bytes, or undefined for "-". */
	path?: Buffer;
}

const QUERY = /^Q (\d+) (\d+) (-1|\d+) ((?:[0-9a-f]{2})+|-)$/;

export function parseQuery(line: string): QueryLine | undefined {
	const m = QUERY.exec(line);
	if (!m) return undefined;
	return { serial: Number(m[1]), pid: Number(m[2]), fd: Number(m[3]), path: m[4] === '-' ? undefined : Buffer.from(m[4], 'hex') };
}

/** The queries devrelay printed ("query <line>"), each checked against the protocol. */
export function queriesIn(output: string): QueryLine[] {
	return output
		.split('\n')
		.filter((l) => l.startsWith('query '))
		.map((l) => {
			const line = l.slice('query '.length);
			const q = parseQuery(line);
			expect(q, `a query line should be "Q <serial> <pid> <fd> <path as lowercase hex>", but the relay read: ${line}`).toBeDefined();
			return q as QueryLine;
		});
}

/** Shell-quote a string for /bin/sh. */
export const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Wait until a running command's output matches. */
export async function waitForOutput(guest: LabGuest, what: string, output: () => string, pattern: RegExp, tcgMs = 30_000): Promise<RegExpExecArray> {
	return guest.waitUntil(what, async () => pattern.exec(output()) ?? undefined, tcgMs);
}

/** Start `devrelay serve` (already uploaded) with these rules and wait until it has the device. */
export async function startDevrelay(guest: LabGuest, relay: string, rules: string): Promise<Running & { pidNumber: number }> {
	const running = guest.spawn(`exec ${relay} serve ${rules}`, { timeoutMs: guest.ms(300_000) });
	let exited: string | undefined;
	running.result.then(
		(r) => (exited = `exit ${r.status}`),
		(e: Error) => (exited = e.message),
	);
	await guest.waitUntil(`devrelay serve ${rules} to open ${DEVICE}`, async () => {
		const out = running.output();
		if (/^ready$/m.test(out)) return true;
		if (exited) throw new Error(`devrelay serve ${rules} ended (${exited}) before it had ${DEVICE}: ${out}`);
		return undefined;
	});
	return { ...running, pidNumber: await running.pid };
}

/** The queries in a relay's output whose decoded path is exactly `path`. */
export const queriesFor = (output: string, path: string | Buffer) => queriesIn(output).filter((q) => q.path?.equals(Buffer.from(path)));
