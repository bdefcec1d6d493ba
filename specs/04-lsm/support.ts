// Shared by the chapter 4 specs: loading execgate, the specs' own relay (devrelay), reading the
// module's log lines, and the query line of /dev/execgate.
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { expect } from 'vitest';
import { BuildError, buildProgram } from '../../guest/build.js';
import type { Running } from '../../guest/guest.js';
import { GUEST_WORKDIR, type LabGuest, type LoadedModule } from '../../guest/lab-guest.js';
import { cachePath, repoRoot, sourceRoot } from '../../guest/paths.js';

export const MODULE = 'execgate';
export const DEVICE = '/dev/execgate';
export const PARAMS = `/sys/module/${MODULE}/parameters`;

/** The files of the module, for lesson metadata. */
export const moduleFile = (name: string) => `kernel/${MODULE}/${name}`;

/** Load execgate with these parameters; the load must succeed and build without warnings. */
export async function loadExecgate(guest: LabGuest, params = ''): Promise<LoadedModule> {
	const load = await guest.insmod(MODULE, params);
	expect(load.status, `insmod ${MODULE} ${params} should succeed, but it printed: ${load.output.trim() || '(nothing)'}\n--- the module's log ---\n${await moduleLog(guest)}`).toBe(0);
	expect(load.module.build.warnings, 'the module should build without warnings').toEqual([]);
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

/**
 * Start a long-running program (`exec` keeps its pid the command's) and wait until its output
 * matches `ready`; fails with its output if it ends first.
 */
export async function startDaemon(guest: LabGuest, command: string, ready: RegExp, what: string, tcgMs = 30_000): Promise<Running & { pidNumber: number }> {
	const running = guest.spawn(`exec ${command}`, { timeoutMs: Number.POSITIVE_INFINITY });
	let exited: string | undefined;
	running.result.then(
		(r) => (exited = `exit ${r.status}`),
		(e: Error) => (exited = e.message),
	);
	await guest.waitUntil(what, async () => {
		if (ready.test(running.output())) return true;
		// the program's own failure: an assertion, so a starter fails for the lesson's reason
		if (exited) expect.fail(`${command} ended (${exited}) before ${what}:\n${running.output()}`);
		return undefined;
	}, tcgMs);
	return { ...running, pidNumber: await running.pid };
}

/** Start `devrelay serve` (already uploaded) with these rules and wait until it has the device. */
export function startDevrelay(guest: LabGuest, relay: string, rules: string): Promise<Running & { pidNumber: number }> {
	return startDaemon(guest, `${relay} serve ${rules}`, /^ready$/m, `devrelay serve ${rules} to open ${DEVICE}`);
}

/** The queries in a relay's output whose decoded path is exactly `path`. */
export const queriesFor = (output: string, path: string | Buffer) => queriesIn(output).filter((q) => q.path?.equals(Buffer.from(path)));

/**
 * Bundle the relay (clamav/relay.ts under the source root, with the chapter 3 client) into one
 * ES module for node 20, named by its content: the guest reads it over 9p with cache=loose, so a
 * changed relay must get a new name, never a rewrite in place. Returns the host path, which is
 * also its path in a guest that mounts the host root.
 */
export async function bundleRelay(): Promise<string> {
	const entry = path.join(sourceRoot, 'clamav', 'relay.ts');
	let result: Awaited<ReturnType<typeof build>>;
	try {
		result = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', write: false, logLevel: 'silent' });
	} catch (e) {
		const errors = (e as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
		throw new BuildError('clamav/relay.ts', errors.map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`).join('\n') || (e as Error).message);
	}
	const code = result.outputFiles![0]!.contents;
	const file = cachePath('relay', `relay-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
	if (!existsSync(file)) {
		const scratch = `${file}.${process.pid}`;
		writeFileSync(scratch, code);
		renameSync(scratch, file);
	}
	return file;
}

/** One "decision ..." line of the relay's log. */
export interface RelayDecision {
	serial: number;
	pid: number;
	/** The descriptor the relay was handed with the query; -1 for none. */
	fd: number;
	answer: 'allow' | 'deny';
	verdict: string;
	signature?: string;
	reason?: string;
	cached: boolean;
	ms: number;
	/** As the relay quotes it. */
	path: string;
	line: string;
}

const DECISION = /^decision serial=(\d+) pid=(\d+) fd=(-1|\d+) answer=(allow|deny) verdict=(\S+)(?: signature=(\S+))?(?: reason=("(?:[^"\\]|\\.)*"))? cached=(yes|no) ms=(\d+(?:\.\d+)?) path=(.*)$/;

export function decisionsIn(log: string): RelayDecision[] {
	return log
		.split('\n')
		.map((line) => ({ line, m: DECISION.exec(line) }))
		.filter((x) => x.m)
		.map(({ line, m }) => ({
			serial: Number(m![1]),
			pid: Number(m![2]),
			fd: Number(m![3]),
			answer: m![4] as 'allow' | 'deny',
			verdict: m![5]!,
			signature: m![6],
			reason: m![7] ? (JSON.parse(m![7]) as string) : undefined,
			cached: m![8] === 'yes',
			ms: Number(m![9]),
			path: m![10]!,
			line,
		}));
}

/** The relay's decisions about one path (given as the plain path; quoted here as the relay does). */
export const decisionsFor = (log: string, file: string) => decisionsIn(log).filter((d) => d.path === JSON.stringify(file));

export interface StartedRelay extends Running {
	pidNumber: number;
	bundle: string;
}

/** Start the student's relay in a guest with the host root, and wait until it has the device. */
export async function startRelay(guest: LabGuest, args: string): Promise<StartedRelay> {
	const bundle = await bundleRelay();
	// node's first start in a TCG guest translates a lot of code: give it time
	const running = await startDaemon(guest, `node ${bundle} ${args}`, /^relay: ready /m, `the relay (node ${path.basename(bundle)} ${args}) to open ${DEVICE}`, 60_000);
	return { ...running, bundle };
}

/** Waiting for a line to appear in a running command's output. */
export const untilOutput = (guest: LabGuest, what: string, running: Running, test: (out: string) => boolean, tcgMs = 30_000) =>
	guest.waitUntil(what, async () => (test(running.output()) ? true : undefined), tcgMs);
