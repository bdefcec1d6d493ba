// Shared by the chapter 4 specs: loading execgate, the specs' own relay (devrelay), reading the
// module's log lines, and the query line of /dev/execgate.
import path from 'node:path';
import { expect } from 'vitest';
import { bundleForGuest } from '../../guest/bundle.js';
import type { Running } from '../../guest/guest.js';
import type { LabGuest, LoadedModule } from '../../guest/lab-guest.js';
import { sourceRoot } from '../../guest/paths.js';

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
	return (await guest.moduleLog(MODULE)).join('\n');
}

/** Set a writable module parameter (the policy ones are 0644). */
export async function setParam(guest: LabGuest, name: string, value: string | number): Promise<void> {
	const r = await guest.run(`echo ${value} > ${PARAMS}/${name}`);
	expect(r.status, `setting ${name}=${value}: ${r.output}`).toBe(0);
}

/** Build one of the specs' own programs (fixtures/lsm/<name>) and upload it; returns its guest path. */
export function prepareFixture(guest: LabGuest, name: 'devrelay' | 'hello-exec', guestPath?: string): Promise<string> {
	return guest.prepareFixtureProgram(`lsm/${name}`, guestPath);
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
export function startDevrelay(guest: LabGuest, relay: string, rules: string): Promise<Running & { pidNumber: number }> {
	return guest.startDaemon(`${relay} serve ${rules}`, /^ready$/m, `devrelay serve ${rules} to open ${DEVICE}`);
}

/** The queries in a relay's output whose decoded path is exactly `path`. */
export const queriesFor = (output: string, path: string | Buffer) => queriesIn(output).filter((q) => q.path?.equals(Buffer.from(path)));

/** The student's relay (clamav/relay.ts under the source root) bundled for the guest's node. */
export const bundleRelay = () => bundleForGuest(path.join(sourceRoot, 'clamav', 'relay.ts'));

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
	const running = await guest.startDaemon(`node ${bundle} ${args}`, /^relay: ready /m, `the relay (node ${path.basename(bundle)} ${args}) to open ${DEVICE}`, 60_000);
	return { ...running, bundle };
}

/** Waiting for a line to appear in a running command's output. */
export const untilOutput = (guest: LabGuest, what: string, running: Running, test: (out: string) => boolean, tcgMs = 30_000) =>
	guest.waitUntil(what, async () => (test(running.output()) ? true : undefined), tcgMs);
