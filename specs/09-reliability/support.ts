// Shared by the reliability specs (issue 9): they are not lessons. Each injects a fault into the
// exec-scanning path (kernel/execgate, clamav/relay.ts, clamd) or the harness, and checks that no
// exec got the wrong verdict, no guest oopsed unless that was the point, and nothing hung.
//
// They run in project "lessons" only, on the solutions: curriculum/vitest.ts leaves them out of
// the starter track (the honesty check), and a student workspace does not get them
// (UPSTREAM_ONLY in curriculum/workspace.ts). See README.md in this folder.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { classifyConsole, consoleExcerpt, describeEvents } from '../../guest/console.js';
import type { LabGuest } from '../../guest/lab-guest.js';
import { GuestPool } from '../../guest/lesson.js';
import { repoRoot, resultsDir } from '../../guest/paths.js';

/** How long the sustained-load specs run: seconds, or LAB_SOAK_SECONDS for a soak by hand. */
export const soakSeconds = (defaultSeconds: number) => {
	const s = Number(process.env.LAB_SOAK_SECONDS);
	return Number.isFinite(s) && s > 0 ? s : defaultSeconds;
};

const slug = (s: string) => s.replace(/[^A-Za-z0-9.]+/g, '-').replace(/^-|-$/g, '').toLowerCase().slice(0, 80);

/**
 * Run `body` with guests of its own, all killed at the end. On failure each guest's console is
 * kept under results/reliability/<name>/ and the error names the kernel events it saw.
 */
export async function withGuests(name: string, body: (vm: GuestPool) => Promise<void>, onFinished: (f: () => Promise<void>) => void): Promise<void> {
	const vm = new GuestPool();
	onFinished(() => vm.closeAll());
	const dir = path.join(resultsDir, 'reliability', slug(name));
	rmSync(dir, { recursive: true, force: true });
	try {
		await body(vm);
	} catch (e) {
		const error = e instanceof Error ? e : new Error(String(e));
		mkdirSync(dir, { recursive: true });
		const notes = vm.guests.map((g, i) => {
			const file = path.join(dir, `guest-${i + 1}.console.log`);
			writeFileSync(file, g.console);
			const events = classifyConsole(g.console);
			return `guest ${i + 1}: ${events.length ? describeEvents(events) : 'no kernel events'} (console: ${path.relative(repoRoot, file)})`;
		});
		if (!error.message.includes('--- console ---') && vm.guests[0]) notes.push(`--- console of guest 1 ---\n${consoleExcerpt(vm.guests[0].console)}`);
		error.message = `${error.message}\n\n${notes.join('\n')}`;
		throw error;
	} finally {
		await vm.closeAll();
	}
}

/** SLUB's own reports of a corrupted object (with slub_debug): "BUG kmalloc-64 (Tainted: ...): Redzone overwritten". */
const SLUB_BUG = /^(?:\[[\s\d.]+\] )?(BUG [\w-]+ \([^)]*\): .*)$/m;

/**
 * The kernel stayed healthy: no oops, panic, WARNING, soft lockup or hung task on the console,
 * and (on a guest booted with slub_debug) no report of a corrupted slab object.
 */
export function expectHealthyKernel(guest: LabGuest, what: string): void {
	for (const kind of ['oops', 'panic', 'warning', 'soft-lockup', 'hung-task'] as const) {
		expect(guest, `${what}: no kernel "${kind}"`).not.toHaveKernelEvent(kind);
	}
	expect(SLUB_BUG.exec(guest.console)?.[1], `${what}: SLUB found no corrupted object`).toBeUndefined();
	expect(guest.hasExited, `${what}: the guest is still running`).toBe(false);
}

/**
 * Kilobytes of kernel memory nothing can reclaim (SUnreclaim, which also counts kmalloc's large
 * allocations, plus vmalloc), after dropping the caches: where a leaked buffer stays.
 */
export async function kernelKb(guest: LabGuest): Promise<number> {
	const r = await guest.run(`sync; echo 3 > /proc/sys/vm/drop_caches; awk '/^(SUnreclaim|VmallocUsed):/ { kb += $2 } END { print kb }' /proc/meminfo`);
	return Number(r.stdout.trim());
}

/** Fields "key=value" of the last line of `output` that starts with `prefix`. */
export function fieldsOf(output: string, prefix: string): Record<string, string> | undefined {
	const line = output
		.split('\n')
		.filter((l) => l.startsWith(`${prefix} `))
		.at(-1);
	if (!line) return undefined;
	return Object.fromEntries([...line.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
}

/** Shell-quote bytes for /bin/sh as $'...'-free printf: each byte as an octal escape. */
export function printfPath(bytes: Buffer): string {
	return `"$(printf '${[...bytes].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('')}')"`;
}

/**
 * A path as the relay's decision lines quote it (clamav/relay.ts, lesson 4.5): in double
 * quotes, printable ASCII as is but for " and \\, every other byte as \\xHH; "-" for no path.
 * Written out again here, so a relay that mangles a name cannot agree with itself.
 */
export function quoteBytes(path: Buffer | undefined): string {
	if (!path) return '-';
	let out = '"';
	for (const b of path) {
		if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
		else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
		else out += `\\x${b.toString(16).padStart(2, '0')}`;
	}
	return `${out}"`;
}

/** The figures every spec adds to, printed at the end of a run (and read by scripts/reliability). */
export function figure(name: string, values: Record<string, number | string>): void {
	process.stdout.write(`[reliability] ${name} ${Object.entries(values).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
}
