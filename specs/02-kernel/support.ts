// Helpers the chapter 2 specs share: pending signals, TAP from modules, waits on insmod and
// recorded consoles. General ones (sysctl, moduleState, moduleLog) are LabGuest's.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Parser } from 'tap-parser';
import { expect } from 'vitest';
import { GuestDied } from '../../guest/guest.js';
import type { LabGuest } from '../../guest/lab-guest.js';
import { repoRoot } from '../../guest/paths.js';

/** Signals pending for a process, from /proc/PID/status: the thread's own and the shared set. */
export async function pendingSignals(guest: LabGuest, pid: number): Promise<{ thread: bigint; shared: bigint } | undefined> {
	const r = await guest.run(`cat /proc/${pid}/status 2>/dev/null`);
	const field = (name: string) => /^(\w+):\s+([0-9a-f]+)$/m.exec(r.stdout.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2];
	const thread = field('SigPnd');
	const shared = field('ShdPnd');
	if (thread === undefined || shared === undefined) return undefined;
	return { thread: BigInt(`0x${thread}`), shared: BigInt(`0x${shared}`) };
}

/** Bit of a signal in a /proc/PID/status mask (signal 9 is 0x100). */
export const signalBit = (signal: number) => 1n << BigInt(signal - 1);

/** Wait for a promise that must reject with an error of this class; returns the error. */
export async function rejection<E extends Error>(promise: Promise<unknown>, kind: abstract new (...args: never[]) => E, what: string): Promise<E> {
	try {
		await promise;
	} catch (e) {
		if (e instanceof kind) return e;
		throw e;
	}
	return expect.fail((kind as unknown) === GuestDied ? `${what} should have brought the guest down (a kernel panic), but it completed and the guest runs on` : `${what} should have failed with ${kind.name}, but it completed`);
}

/**
 * With LAB_RECORD_CONSOLE=1, keep the guest's raw console as fixtures/console/<kind>.log:
 * real crash logs to unit-test the console classifier with.
 */
export function recordConsole(guest: LabGuest, kind: string): void {
	if (process.env.LAB_RECORD_CONSOLE !== '1') return;
	const dir = path.join(repoRoot, 'fixtures', 'console');
	mkdirSync(dir, { recursive: true });
	writeFileSync(path.join(dir, `${kind}.log`), guest.console);
}

/** One TAP test point a guest-side program or module reported. */
export interface TapPoint {
	id: number;
	ok: boolean;
	name: string;
}

/** Parse flat TAP (plan, "ok N - name" lines, "#" comments) with tap-parser. */
export function parseTap(text: string): { points: TapPoint[]; planned: number; comments: string[] } {
	const points: TapPoint[] = [];
	const comments: string[] = [];
	let planned = -1;
	const parser = new Parser();
	parser.on('assert', (r: { id: number; ok: boolean; name: string }) => points.push({ id: r.id, ok: r.ok, name: r.name }));
	parser.on('plan', (p: { end: number }) => (planned = p.end));
	parser.on('comment', (c: string) => comments.push(c.replace(/^#\s*/, '').trim()));
	parser.end(text);
	return { points, planned, comments };
}

type Finished = { status: number; output: string };

/** Poll until `ready` says yes; fail at once, with insmod's output, if insmod returns first. */
async function whileInsmodRuns(guest: LabGuest, what: string, result: Promise<Finished>, ready: () => Promise<boolean>): Promise<void> {
	let returned: Finished | undefined;
	result.then((r) => (returned = r), () => {});
	await guest.waitUntil(what, async () => {
		if (returned) expect.fail(`insmod returned (status ${returned.status}) while waiting for ${what}; insmod printed ${returned.output.trim() ? `: ${returned.output.trim()}` : 'nothing'}`);
		return (await ready()) ? true : undefined;
	}, 15_000);
}

/** Wait until insmod sleeps (D state) inside the init of `module` (module Loading). */
export function waitForInitToBlock(guest: LabGuest, module: string, result: Promise<Finished>, pid: number): Promise<void> {
	return whileInsmodRuns(guest, `insmod to block in the init of module ${module} (D state, module Loading)`, result, async () =>
		(await guest.procState(pid)) === 'D' && (await guest.moduleState(module)) === 'Loading');
}

/** Wait until the init of `module` is running (module Loading). */
export function waitForInitToRun(guest: LabGuest, module: string, result: Promise<Finished>): Promise<void> {
	return whileInsmodRuns(guest, `the init of module ${module} to be running (module Loading)`, result, async () => (await guest.moduleState(module)) === 'Loading');
}
