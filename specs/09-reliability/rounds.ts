// Shared by relay-faults.spec.ts and clamd-faults.spec.ts: a guest with execgate, the real clamd
// and programs to run; rounds of execs checked one by one against the module's log line for each
// and the relay's decision.
import { expect } from 'vitest';
import { type GuestClamd, startClamdInGuest } from '../../clamav/daemon.js';
import { baseDatabase, buildMarker } from '../../clamav/samples.js';
import type { Running } from '../../guest/guest.js';
import { GUEST_WORKDIR, type LabGuest } from '../../guest/lab-guest.js';
import { decisionsIn, loadExecgate, moduleLog, prepareFixture } from '../04-lsm/support.js';

export const DIR = GUEST_WORKDIR;
export const CLAMD_DIR = '/run/lab-clamd';
export const CLAMD_SOCKET = `${CLAMD_DIR}/clamd.sock`;

/** What the module logged about one exec: "allow|deny <path>: <outcome> (query N, M ms)". */
export interface ModuleDecision {
	allow: boolean;
	path: string;
	outcome: string;
	serial: number;
}

const MODULE_LINE = /^(allow|deny) (\S+): (.*?) \(query (\d+), \d+ ms\)$/;

function moduleDecisions(log: string): ModuleDecision[] {
	return log
		.split('\n')
		.map((l) => MODULE_LINE.exec(l))
		.filter((m): m is RegExpExecArray => m !== null)
		.map((m) => ({ allow: m[1] === 'allow', path: m[2]!, outcome: m[3]!, serial: Number(m[4]) }));
}

/** The guest files of one round: fresh copies, so no verdict comes from the relay's cache. */
export async function freshCopies(guest: LabGuest, tag: string, clean: number, detected: number): Promise<{ clean: string[]; detected: string[] }> {
	const c = Array.from({ length: clean }, (_, i) => `${DIR}/clean-${tag}-${i}`);
	const d = Array.from({ length: detected }, (_, i) => `${DIR}/marker-${tag}-${i}`);
	const r = await guest.run([...c.map((f) => `cp ${DIR}/clean ${f}`), ...d.map((f) => `cp ${DIR}/marker ${f}`)].join(' && ') || 'true');
	expect(r.status, r.output).toBe(0);
	return { clean: c, detected: d };
}

/** The names freshCopies would use, without making the copies (several rounds made in one go). */
export function freshCopiesLater(tag: string): { clean: string[]; detected: string[] } {
	return { clean: [`${DIR}/clean-${tag}-0`], detected: [`${DIR}/marker-${tag}-0`] };
}

/** Run the programs at once; each prints "<path> rc=<status>". The shell starts now. */
export function execAll(guest: LabGuest, files: string[], after = ''): Running {
	return guest.spawn(`${files.map((f) => `(${f} >/dev/null 2>&1; echo "${f} rc=$?") &`).join(' ')} wait; ${after}`, { timeoutMs: guest.ms(90_000) });
}

function statuses(output: string): Map<string, number> {
	return new Map([...output.matchAll(/^(\S+) rc=(\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

export interface Expectation {
	/** The outcomes the module may report for a clean program, for a detected one. */
	policy: 'fail-open' | 'fail-closed';
	onError: 'allow' | 'deny';
}

/**
 * Check each exec of this round against the module's line for it and the relay's decision:
 * the status matches the module's outcome, and the outcome is one the configuration allows.
 * Returns the outcomes seen, for the caller's own expectations.
 */
export async function checkRound(guest: LabGuest, relayLog: () => string, files: { clean: string[]; detected: string[] }, output: string, e: Expectation): Promise<Map<string, ModuleDecision>> {
	const rc = statuses(output);
	const kernel = moduleDecisions(await moduleLog(guest));
	// the relay logs a decision before it answers, but its output reaches us on its own way
	const answeredSerials = kernel.filter((d) => [...files.clean, ...files.detected].includes(d.path) && /^the relay (allows|denies)$/.test(d.outcome)).map((d) => d.serial);
	await guest.waitUntil('the relay\'s decision lines', async () => {
		const logged = new Set(decisionsIn(relayLog()).map((d) => d.serial));
		return answeredSerials.every((s) => logged.has(s)) ? true : undefined;
	}, 10_000).catch(() => {});
	const relay = decisionsIn(relayLog());
	const seen = new Map<string, ModuleDecision>();
	for (const [kind, list] of [['clean', files.clean], ['detected', files.detected]] as const) {
		for (const f of list) {
			const mine = kernel.filter((d) => d.path === f);
			expect(mine.length, `the module decided once about ${f}:\n${mine.map((d) => `${d.allow} ${d.outcome}`).join('\n')}`).toBe(1);
			const d = mine[0]!;
			seen.set(f, d);
			expect(rc.get(f), `${f}: the module said "${d.allow ? 'allow' : 'deny'}: ${d.outcome}", the program must ${d.allow ? 'run (0)' : 'get EPERM (126)'}\n${output}`).toBe(d.allow ? 0 : 126);
			const answered = relay.filter((r) => r.serial === d.serial);
			if (/^the relay (allows|denies)$/.test(d.outcome)) {
				expect(answered.length, `the relay logged one decision for query ${d.serial} (${f})`).toBe(1);
				const r = answered[0]!;
				expect(r.answer, `the module did what the relay answered for ${f}`).toBe(d.allow ? 'allow' : 'deny');
				// the relay allows only what clamd found clean, or any error when configured so
				if (r.verdict === 'error') expect(r.answer, `an unscannable ${f} is answered by --on-error ${e.onError}`).toBe(e.onError);
				else expect(r.verdict, `clamd's verdict on ${f}`).toBe(kind === 'clean' ? 'clean' : 'found');
			} else {
				expect(d.outcome, `${f}: without an answer the fail policy decides`).toMatch(new RegExp(`^(no relay|the relay is silent|the relay is gone), ${e.policy}$`));
				expect(d.allow, `${f}: ${e.policy}`).toBe(e.policy === 'fail-open');
			}
		}
	}
	return seen;
}

export async function setup(guest: LabGuest): Promise<GuestClamd> {
	const [database, marker] = await Promise.all([baseDatabase(), buildMarker()]);
	await loadExecgate(guest, 'timeout_ms=30000');
	await prepareFixture(guest, 'hello-exec', `${DIR}/clean`);
	await guest.upload(marker.file, `${DIR}/marker`);
	await guest.run(`chmod +x ${DIR}/marker`);
	return startClamdInGuest(guest, { databaseDir: database, runDir: CLAMD_DIR });
}


