// Helpers shared by the chapter 1 specs: the helper programs under fixtures/userspace (not
// student work), bystander processes, and the proof that "only the process died".
import { expect } from 'vitest';
import type { Built } from '../../guest/build.js';
import type { LabGuest } from '../../guest/lab-guest.js';

/** Build fixtures/userspace/<name> statically and upload it; returns its path in the guest. */
export function prepareFixture(guest: LabGuest, name: string): Promise<string> {
	return guest.prepareFixtureProgram(`userspace/${name}`);
}

/** The student's program must build without a single warning from gcc -Wall -Wextra. */
export function expectNoWarnings(build: Built, dir: string): void {
	expect(build.warnings, `userspace/${dir} should build without warnings under gcc -Wall -Wextra`).toEqual([]);
}

export interface Bystander {
	what: string;
	pid: number;
	/** Resident memory (KiB) it holds at the start, 0 for a sleeper. */
	rssKiB: number;
}

/** The resident memory of a process in KiB (VmRSS), or undefined once it is gone. */
export async function residentKiB(guest: LabGuest, pid: number): Promise<number | undefined> {
	const r = await guest.run(`cat /proc/${pid}/status 2>/dev/null`);
	const m = /^VmRSS:\s+(\d+) kB/m.exec(r.stdout);
	return m ? Number(m[1]) : undefined;
}

/**
 * Start processes that have nothing to do with the lesson: a sleeping busybox `sleep`, and,
 * with holdMiB, a program holding that much written memory. Resolves once they are settled.
 */
export async function startBystanders(guest: LabGuest, holdMiB: number[] = []): Promise<Bystander[]> {
	const sleeper = guest.spawn('exec sleep 3600');
	const bystanders: Bystander[] = [{ what: 'sleep 3600', pid: await sleeper.pid, rssKiB: 0 }];
	if (holdMiB.length) {
		const program = await prepareFixture(guest, 'bystander');
		for (const mib of holdMiB) {
			const holder = guest.spawn(`exec ${program} ${mib}`);
			const pid = await holder.pid;
			// it is settled once all of its memory is resident
			const rssKiB = await guest.waitUntil(`the bystander holding ${mib} MiB to have it resident`, async () => {
				const kib = await residentKiB(guest, pid);
				return kib !== undefined && kib >= mib * 1024 ? kib : undefined;
			}, 20_000);
			bystanders.push({ what: `bystander holding ${mib} MiB`, pid, rssKiB });
		}
	}
	for (const b of bystanders) await guest.waitForState(b.pid, 'S', 10_000);
	return bystanders;
}

/**
 * The lesson's "only the process died": the kernel did not oops or panic, every bystander is
 * still alive, asleep and holding its memory, and a new command still runs.
 */
export async function expectSystemFine(guest: LabGuest, bystanders: Bystander[]): Promise<void> {
	expect(guest.hasExited, 'the guest should still be running').toBe(false);
	expect(guest).not.toHaveKernelEvent('oops');
	expect(guest).not.toHaveKernelEvent('panic');
	for (const b of bystanders) {
		const state = await guest.procState(b.pid);
		expect(state, `the bystander "${b.what}" (pid ${b.pid}) should still be asleep (S), but its state is ${state ?? 'gone'}`).toBe('S');
		if (b.rssKiB) {
			const kib = await residentKiB(guest, b.pid);
			expect(kib, `the bystander "${b.what}" should still hold its memory`).toBeGreaterThanOrEqual(b.rssKiB);
		}
	}
	const r = await guest.run('echo still here; cat /proc/uptime');
	expect(r.status, `a new command should still run: ${r.output}`).toBe(0);
	expect(r.stdout).toMatch(/^still here\n\d+\.\d+ /);
}

export interface PeakRss {
	/** Exit status as a shell reports it: the exit code, or 128 + the signal. */
	status: number;
	/** The program's own pid (not peakrss's). */
	pid: number;
	maxRssKiB: number;
	signal?: number;
	exitCode?: number;
	stdout: string;
	/** The program's stderr, without peakrss's report. */
	stderr: string;
}

/** Run `command` under the peakrss fixture: how it ended and its peak resident memory, from wait4. */
export async function runWithPeakRss(guest: LabGuest, peakrss: string, command: string, prefix = ''): Promise<PeakRss> {
	const r = await guest.run(`${prefix}exec ${peakrss} ${command}`);
	const m = /^peakrss: pid (\d+) max-rss-kib (\d+) (exit|signal) (\d+)$/m.exec(r.stderr);
	if (!m) throw new Error(`peakrss did not report on "${command}" (status ${r.status}):\n${r.output}`);
	const value = Number(m[4]);
	return {
		status: r.status,
		pid: Number(m[1]),
		maxRssKiB: Number(m[2]),
		...(m[3] === 'signal' ? { signal: value } : { exitCode: value }),
		stdout: r.stdout,
		stderr: r.stderr.replace(m[0], '').trim(),
	};
}

/** How a shell shows an exit status, for messages: "139 (killed by SIGSEGV)". */
export function describeStatus(status: number): string {
	const names: Record<number, string> = { 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM' };
	return status > 128 ? `${status} (killed by ${names[status - 128] ?? `signal ${status - 128}`})` : `${status} (exited normally)`;
}

/** A program's output for a failure message, or nothing when it printed nothing. */
export function printed(output: string): string {
	return output.trim() ? `; it printed:\n${output.trimEnd()}` : '';
}

/** Undo the C escapes strace and ltrace print strings with ("\n", "\t", "\"", "\\", "\177"). */
export function unescapeC(text: string): string {
	const named: Record<string, string> = { n: '\n', t: '\t', r: '\r', v: '\v', f: '\f', a: '\x07', b: '\b', e: '\x1b' };
	return text.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_, c: string) => {
		if (c[0] === 'x') return String.fromCharCode(parseInt(c.slice(1), 16));
		if (/^[0-7]/.test(c)) return String.fromCharCode(parseInt(c, 8));
		return named[c] ?? c;
	});
}

/** A quoted C string at the start of `text` (strace/ltrace argument), unescaped; undefined if none. */
export function leadingCString(text: string): string | undefined {
	const m = /^"((?:[^"\\]|\\.)*)"/.exec(text);
	return m ? unescapeC(m[1]) : undefined;
}

/** The lines hello-stdio prints, one per way of printing. */
export const HELLO_STDIO = {
	printf: 'printf: Hello world.\n',
	fwrite: 'fwrite: Hello world.\n',
	write: 'write: Hello world.\n',
} as const;
