// How a spec declares a lesson: its number, its title and hint in English and Japanese, the
// student files it depends on, its points and the lessons it needs first, and a body that gets
// guests on demand. A failure comes back with the evidence: the kernel events, the console
// excerpt, where the full log was kept, and the hint; the same evidence goes to the reporters
// in the test's meta (curriculum/lesson-meta.ts).
//
// On the honesty check's starter track (curriculum/starter-track) the same test runs on a tree
// where this lesson's student regions are removed, and its outcome is inverted: it passes when
// the lesson fails for the lesson's own reason, and fails when the lesson passes on its starter
// or breaks for a reason outside the lesson.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { inject, test } from 'vitest';
import { isLessonId, chapterOf } from '../curriculum/lesson-id.js';
import type { Bilingual, ConsoleEvidence, FailureEvidence, LessonMeta, StarterVerdict } from '../curriculum/lesson-meta.js';
import { type StarterTrack, useStarter, workerSourceRoot } from '../curriculum/starter-track/track.js';
import { BuildError } from './build.js';
import { classifyConsole, consoleExcerpt, describeEvents } from './console.js';
import { type BootOptions, GuestError, scaledMs } from './guest.js';
import { LabGuest } from './lab-guest.js';
import { repoRoot, resultsDir, sourceRoot } from './paths.js';

export type { Bilingual } from '../curriculum/lesson-meta.js';

export interface Lesson {
	/** Chapter and lesson, e.g. "2.1", or "1.2b" for one between 1.2 and 1.3. The chapter is the number before the dot. */
	id: string;
	title: Bilingual;
	hint: Bilingual;
	/** The student files this lesson depends on, relative to the repository root. */
	files: string[];
	/** What passing this test is worth; default 1. A lesson number used by several tests is worth their sum. */
	points?: number;
	/** Lessons that must pass first (e.g. 2.3 needs ["2.1"]): while one fails, this one is reported as blocked by it. */
	requires?: string[];
	/** Time limit under TCG (scaled for KVM); default 120 s. */
	timeoutMs?: number;
}

export interface GuestRequest extends Pick<BootOptions, 'memoryMiB' | 'cpus' | 'append'> {
	/** Mount the host root (read-only) so host tools run in the guest: node, strace, clamd... */
	hostRoot?: boolean;
	/** Boot instead of restoring the saved state (needed for boot parameters). */
	cold?: boolean;
	/**
	 * Boot the compressed kernel, whose decompressor places the kernel at a random address
	 * (KASLR), instead of the faster unrandomized vmlinux; about 2.5 s more under TCG.
	 */
	kaslr?: boolean;
}

const show = process.env.LAB_SHOW === '1';

/** Prints a guest's console line by line with a prefix (a slow guest sends a few bytes at a time). */
function consolePrinter(prefix: string): (text: string) => void {
	let partial = '';
	return (text) => {
		const lines = (partial + text).split('\n');
		partial = lines.pop() ?? '';
		for (const line of lines) process.stdout.write(`${prefix}${line.replace(/\r$/, '')}\n`);
	};
}

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
		const needsBoot = request.cold || request.kaslr || request.append?.length || request.cpus || request.memoryMiB;
		if (request.kaslr && !image.bzImage) throw new Error('a KASLR boot needs the compressed kernel image (GuestImage.bzImage)');
		const n = this.guests.length + 1;
		const guest = await LabGuest.start(request.kaslr ? { ...image, vmlinux: image.bzImage! } : image, {
			...request,
			incoming: needsBoot ? undefined : snapshot,
			onConsole: show ? consolePrinter(`  console ${n} | `) : undefined,
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

/**
 * vitest's `test` with the harness's fixtures: `vm`, a GuestPool of the test's own, and `guest`,
 * a default guest from it (restored from the run's saved state). Every guest of the pool is
 * killed when the test ends, also when a time limit abandons the test's body.
 */
export const guestTest = test.extend<{ vm: GuestPool; guest: LabGuest }>({
	// (vitest reads a fixture's dependencies from its first parameter's pattern: none here)
	vm: async ({}, use) => {
		const pool = new GuestPool();
		try {
			await use(pool);
		} finally {
			await pool.closeAll();
		}
	},
	guest: async ({ vm }, use) => {
		await use(await vm.guest());
	},
});

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

/** The lesson's own reasons to fail: an assertion, a build error, the guest; undefined for anything else. */
function lessonReason(error: Error): StarterVerdict['kind'] | undefined {
	if (error instanceof BuildError) return 'build';
	if (error instanceof GuestError) return 'guest';
	if (error.name === 'AssertionError') return 'assertion';
	return undefined;
}

const CONSOLE_MARK = '\n--- console ---\n';
const printable = (v: unknown) => inspect(v, { depth: 4, breakLength: 100, maxArrayLength: 50, maxStringLength: 4000 });

function evidenceOf(error: Error, pool: GuestPool, logs: string[], meta: LessonMeta): FailureEvidence {
	// a lesson without a module of its own: with no kernel event the console holds only the
	// kernel's housekeeping (clock calibration after a restore), which proves nothing
	const ownsModule = meta.files.some((f) => f.startsWith('kernel/'));
	const consoles: ConsoleEvidence[] = pool.guests
		.map((g, i) => ({ g, i, events: classifyConsole(g.console) }))
		.filter(({ g, events }) => g.console.trim() && (events.length || ownsModule))
		.map(({ g, i, events }) => ({ guest: i + 1, events: events.length ? describeEvents(events) : 'no kernel events', excerpt: consoleExcerpt(g.console, events) }));
	const { expected, actual } = error as { expected?: unknown; actual?: unknown };
	return {
		kind: lessonReason(error) ?? 'harness',
		// errors from the harness carry their own console excerpt: the consoles hold it already
		message: error.message.split(CONSOLE_MARK)[0],
		...(error.name === 'AssertionError' && expected !== undefined ? { expected: printable(expected), actual: printable(actual) } : {}),
		consoles,
		logs,
	};
}

/** The error as the default reporter shows it: its message, then the evidence and the hint. */
function explain(error: Error, evidence: FailureEvidence, meta: LessonMeta): Error {
	const parts: string[] = [];
	if (!error.message.includes(CONSOLE_MARK)) {
		for (const c of evidence.consoles) parts.push(`--- console of guest ${c.guest} (${c.events}) ---\n${c.excerpt}`);
	}
	if (evidence.logs.length) parts.push(`Full console log: ${evidence.logs.join(', ')}`);
	parts.push(`Hint: ${meta.hint.en}`, `ヒント: ${meta.hint.ja}`, `Files: ${meta.files.join(', ')}`);
	error.message = `${error.message}\n\n${parts.join('\n')}`;
	return error;
}

/** The metadata the reporters get, checked now so a mistake fails at collection with its reason. */
export function lessonMeta(lesson: Lesson): LessonMeta {
	const where = `lesson ${JSON.stringify(lesson.id)}`;
	if (!isLessonId(lesson.id)) throw new Error(`${where}: the id must be "<chapter>.<lesson>" such as "2.3" or "1.2b"`);
	if (!lesson.files.length) throw new Error(`${where}: files must list the student files the lesson depends on`);
	for (const f of lesson.files) {
		if (path.isAbsolute(f) || f.split('/').includes('..') || !existsSync(path.join(repoRoot, f))) {
			throw new Error(`${where}: files: "${f}" is not a file of this repository (paths are relative to its root)`);
		}
	}
	const points = lesson.points ?? 1;
	if (!Number.isInteger(points) || points < 1) throw new Error(`${where}: points must be a whole number of at least 1, not ${points}`);
	const requires = lesson.requires ?? [];
	for (const r of requires) if (!isLessonId(r) || r === lesson.id) throw new Error(`${where}: requires: "${r}" is not another lesson's number`);
	return { id: lesson.id, chapter: chapterOf(lesson.id), title: lesson.title, hint: lesson.hint, files: lesson.files, points, requires };
}

/**
 * Before a lesson runs on the starter track: the regions its starter removes (its own, or for a
 * lesson without any, those of the lessons it requires), checked, and the worker pointed at it.
 */
function prepareStarter(track: StarterTrack, meta: LessonMeta): string[] {
	const own = track.regions[meta.id] ?? [];
	const removed = own.length ? [meta.id] : meta.requires.filter((r) => track.regions[r]?.length);
	if (!removed.length) {
		throw new Error(
			`lesson ${meta.id} has no student region (TODO(${meta.id}) BEGIN ... END) in ${meta.files.join(', ')}${meta.requires.length ? `, and the lessons it requires (${meta.requires.join(', ')}) have none either` : ', and requires no lesson'}: there is nothing for the student to write, so it cannot fail on a starter`,
		);
	}
	const unlisted = own.filter((r) => !meta.files.includes(r.file));
	if (unlisted.length) {
		throw new Error(`lesson ${meta.id} has student regions in files it does not list: ${unlisted.map((r) => `${r.file}:${r.begin}`).join(', ')} (add them to files)`);
	}
	if (sourceRoot !== workerSourceRoot(track)) {
		throw new Error(`the starter track reads sources from ${workerSourceRoot(track)}, but guest/paths.ts was loaded with ${sourceRoot}: a setup file imported it before curriculum/starter-track/worker-setup.ts ran`);
	}
	useStarter(track, removed);
	return removed.flatMap((id) => track.regions[id].map((r) => `${r.file}:${r.begin}`));
}

export function lesson(spec: Lesson, body: (ctx: { vm: GuestPool }) => Promise<void>): void {
	const meta = lessonMeta(spec);
	const accel = inject('lab').image.accel;
	const starters = inject('labStarters');
	const lessonDir = path.join(resultsDir, ...(starters ? ['starters'] : []), slug(`${meta.id} ${meta.title.en}`));
	guestTest(
		`${meta.id} ${meta.title.en}`,
		{
			meta: { lesson: meta },
			// the harness's own limits fire first, so a slow lesson fails with evidence
			timeout: scaledMs(accel, spec.timeoutMs ?? 120_000) + 30_000,
		},
		async ({ task, vm }) => {
			rmSync(lessonDir, { recursive: true, force: true });
			const removed = starters ? prepareStarter(starters, meta) : [];
			const failure = await body({ vm }).then(
				() => undefined,
				(thrown: unknown) => (thrown instanceof Error ? thrown : new Error(String(thrown))),
			);
			const reason = failure && lessonReason(failure);
			if (starters && failure && reason) {
				// what the honesty check wants: the lesson fails on its starter, for its own reason
				await vm.closeAll();
				task.meta.starter = { kind: reason, message: failure.message.split('\n')[0] };
				return;
			}
			const logs = failure ? keepEvidence(lessonDir, vm) : [];
			await vm.closeAll();
			if (starters && !failure) {
				throw new Error(`lesson ${meta.id} passes on its starter: with the student regions removed (${removed.join(', ')}) the spec still passes, so it does not check the student's work`);
			}
			if (!failure) return;
			if (starters) failure.message = `lesson ${meta.id} fails on its starter for a reason outside the lesson (${failure.name}), not by an assertion, a build error or the guest:\n${failure.message}`;
			const evidence = evidenceOf(failure, vm, logs, meta);
			task.meta.failure = evidence;
			throw explain(failure, evidence, meta);
		},
	);
}
