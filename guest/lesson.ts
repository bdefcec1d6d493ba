// How a spec declares a lesson: its number, its title and hint in English and Japanese, the
// student files it depends on, and a body that gets guests on demand. A failure comes back with
// the evidence: the kernel events, the console excerpt, where the full log was kept, and the hint.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inject, test } from 'vitest';
import { classifyConsole, consoleExcerpt, describeEvents } from './console.js';
import { type BootOptions, scaledMs } from './guest.js';
import { LabGuest } from './lab-guest.js';
import { repoRoot, resultsDir } from './paths.js';

export interface Bilingual {
	en: string;
	ja: string;
}

export interface Lesson {
	/** Chapter and point, e.g. "2.1". */
	id: string;
	title: Bilingual;
	hint: Bilingual;
	/** The student files this lesson depends on, relative to the repository root. */
	files: string[];
	points?: number;
	/** Time limit under TCG (scaled for KVM); default 120 s. */
	timeoutMs?: number;
}

export interface GuestRequest extends Pick<BootOptions, 'memoryMiB' | 'cpus' | 'append'> {
	/** Mount the host root (read-only) so host tools run in the guest: node, strace, clamd... */
	hostRoot?: boolean;
	/** Boot instead of restoring the saved state (needed for boot parameters and fresh KASLR). */
	cold?: boolean;
}

const show = process.env.LAB_SHOW === '1';

/** Long outputs (a whole dmesg) shown by their end only. */
function shorten(output: string, keep = 12): string {
	const lines = output.replace(/\n$/, '').split('\n');
	return lines.length <= keep + 4 ? lines.join('\n') : [`... (${lines.length - keep} earlier lines)`, ...lines.slice(-keep)].join('\n');
}

/** The guests of one test: started on demand, all killed when the test ends. */
export class GuestPool {
	readonly guests: LabGuest[] = [];

	/** A guest of its own: restored from the run's saved state unless the request needs a boot. */
	async guest(request: GuestRequest = {}): Promise<LabGuest> {
		const { image, snapshot } = inject('lab');
		const needsBoot = request.cold || request.append?.length || request.cpus || request.memoryMiB;
		const n = this.guests.length + 1;
		const guest = await LabGuest.start(image, {
			...request,
			incoming: needsBoot ? undefined : snapshot,
			onConsole: show ? (text) => process.stdout.write(text.replace(/^/gm, `  console ${n} | `).replace(/ {2}console \d+ \| $/, '')) : undefined,
		});
		this.guests.push(guest);
		await guest.afterRestore();
		if (request.hostRoot) await guest.mountHostRoot();
		if (show) {
			const run = guest.spawn.bind(guest);
			guest.spawn = (script, options) => {
				const r = run(script, options);
				r.result.then((res) => process.stdout.write(`  guest ${n} $ ${script.trim().replace(/\n/g, '\n    ')}\n${shorten(res.output).replace(/^/gm, '    ')}\n    (exit ${res.status})\n`), () => {});
				return r;
			};
		}
		return guest;
	}

	async closeAll(): Promise<void> {
		await Promise.all(this.guests.map((g) => g.close()));
	}
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9.]+/g, '-').replace(/^-|-$/g, '').toLowerCase();

/** Keep each guest's console for a failed test; returns the files written. */
function keepEvidence(lessonDir: string, pool: GuestPool): string[] {
	mkdirSync(lessonDir, { recursive: true });
	return pool.guests.map((g, i) => {
		const file = path.join(lessonDir, `guest-${i + 1}.console.log`);
		writeFileSync(file, g.console);
		return path.relative(repoRoot, file);
	});
}

function explain(error: unknown, meta: Lesson, pool: GuestPool, logs: string[]): Error {
	const e = error instanceof Error ? error : new Error(String(error));
	const parts: string[] = [];
	pool.guests.forEach((g, i) => {
		const events = classifyConsole(g.console);
		// errors from the harness already carry their console excerpt
		if (!e.message.includes('--- console ---') && g.console.trim()) {
			parts.push(`--- console of guest ${i + 1} (${events.length ? describeEvents(events) : 'no kernel events'}) ---\n${consoleExcerpt(g.console, events)}`);
		}
	});
	if (logs.length) parts.push(`Full console log: ${logs.join(', ')}`);
	parts.push(`Hint: ${meta.hint.en}`, `ヒント: ${meta.hint.ja}`, `Files: ${meta.files.join(', ')}`);
	e.message = `${e.message}\n\n${parts.join('\n')}`;
	return e;
}

export function lesson(meta: Lesson, body: (ctx: { vm: GuestPool }) => Promise<void>): void {
	const accel = inject('lab').image.accel;
	const lessonDir = path.join(resultsDir, slug(`${meta.id} ${meta.title.en}`));
	test(
		`${meta.id} ${meta.title.en}`,
		async ({ onTestFinished }) => {
			rmSync(lessonDir, { recursive: true, force: true });
			const vm = new GuestPool();
			// also on a vitest timeout, which abandons the body: no guest outlives its test
			onTestFinished(() => vm.closeAll());
			try {
				await body({ vm });
			} catch (error) {
				throw explain(error, meta, vm, keepEvidence(lessonDir, vm));
			} finally {
				await vm.closeAll();
			}
		},
		// the harness's own limits fire first, so a slow lesson fails with evidence
		scaledMs(accel, meta.timeoutMs ?? 120_000) + 30_000,
	);
}
