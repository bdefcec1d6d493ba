// The student's reporter (npm test in a student workspace, npm run watch): a line per lesson test
// as it finishes, then the failures with their evidence (after a run that failed many lessons, the
// next lesson's only, the others in a line each), a table per chapter, and the next lesson with its
// hint. It keeps each lesson's latest status and points in results/progress.json for `npm run hint`
// and for the lessons a filtered run (`-t 2.1`, one spec) does not reach, which the tables show
// with their remembered status, marked as from an earlier run.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, SerializedError, TestCase, TestModule, Vitest } from 'vitest/node';
import { type Language, languageOf, texts } from '../i18n.js';
import { type TextOptions, colorWanted, failureDetails, lessonHint, painter, progressReport, requiresNotice, rerunRule, runFailedNotice } from '../report-text.js';
import { type CheckResult, type EarlierRuns, checksOf, lessonsOf, runFailedBeforeLessons, withEarlierRuns } from '../results.js';
import { courseChecks, describeTampering, isStudentWorkspace, isUntouched, restoreSource, studentTodos, verifyWorkspace } from '../workspace.js';

export const PROGRESS_FILE = 'results/progress.json';

/** The latest status (and points) of each lesson that ran, by lesson number. */
export type ProgressFile = EarlierRuns;

export function readProgress(root: string): ProgressFile | undefined {
	try {
		return JSON.parse(readFileSync(path.join(root, PROGRESS_FILE), 'utf8')) as ProgressFile;
	} catch {
		return undefined;
	}
}

export interface ProgressOptions {
	language?: Language;
	/** Report only this lesson (watch mode): its result and failures, no tables. */
	only?: string;
}

export default class ProgressReporter implements Reporter {
	private vitest!: Vitest;
	private readonly language: Language;
	private readonly color = colorWanted();

	constructor(private readonly options: ProgressOptions = {}) {
		this.language = options.language ?? languageOf();
	}

	private print(s: string): void {
		process.stdout.write(`${s}\n`);
	}

	/** Watch mode: the "Watching ..." line, set by watch.ts once the first run is over and repeated after every rerun. */
	watching?: string;

	onWatcherRerun(_files: string[], trigger?: string): void {
		this.print(`\n${rerunRule(new Date(), trigger, this.text)}`);
	}

	onInit(vitest: Vitest): void {
		this.vitest = vitest;
	}

	/** Lessons with a failed test so far in this run: a later failure that requires one is shown as blocked, as the tables will. */
	private readonly failedSoFar = new Set<string>();

	onTestCaseResult(test: TestCase): void {
		const meta = test.meta().lesson;
		const { state } = test.result();
		if (!meta || (state !== 'passed' && state !== 'failed')) return;
		const seconds = ((test.diagnostic()?.duration ?? 0) / 1000).toFixed(1);
		const blockers = state === 'failed' ? meta.requires.filter((r) => this.failedSoFar.has(r)) : [];
		if (state === 'failed') this.failedSoFar.add(meta.id);
		const mark = state === 'passed' ? '✓' : blockers.length ? '⊘' : '✗';
		const why = blockers.length ? `, ${texts(this.language).blockedBy(blockers.join(', '))}` : '';
		this.print(`  ${mark} ${meta.id} ${meta.title[this.language]} (${seconds} s${why})`);
	}

	/**
	 * The report of a run. A run that broke before any lesson gets its errors and one line saying
	 * so, and leaves results/progress.json alone: "not run" everywhere would blame the student's code.
	 * A -t filter that selected no lesson, and changed course files in a workspace, fail the run.
	 */
	onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<Partial<SerializedError>>, reason?: 'passed' | 'failed' | 'interrupted'): void {
		const root = this.vitest.config.root;
		const ran = checksOf(modules, root, 'lessons');
		this.print('');
		const errors = this.printErrors(root, modules, unhandledErrors);
		const broken = runFailedBeforeLessons(ran, errors, reason);
		// before the tables and again as the last word: a student who reads either end sees it
		const tampered = this.tamperingWarning(root);
		if (tampered) this.print(`${tampered}\n`);
		const unmatched = !broken && !this.options.only && this.unmatchedFilter(root, ran);
		if (broken) this.print(runFailedNotice(this.text));
		else if (unmatched) {
			this.print(unmatched);
			process.exitCode = 1;
		} else if (this.options.only) this.reportOnly(root, ran);
		else {
			for (const notice of this.unmetRequirements(root, ran)) this.print(`${notice}\n`);
			this.print(progressReport(withEarlierRuns(lessonsOf(courseChecks(root, ran)), readProgress(root)), studentTodos(root), this.text));
		}
		if (tampered) {
			this.print(`\n${tampered}`);
			// the points above prove nothing: the run must not look like a success to a script or CI
			process.exitCode = 1;
		}
		// a run against changed course files proves nothing: hint and Next keep the last honest one
		if (!broken && !unmatched && !tampered) this.remember(root, ran);
		if (this.watching) this.print(`\n${this.watching}`);
	}

	/**
	 * A filtered run (-t 4.2, watch mode) of a lesson whose required lesson did not run now and did
	 * not pass last time: the likelier reason for its failure, said first (the tables cannot show it
	 * blocked). One notice per failed lesson.
	 */
	private unmetRequirements(root: string, ran: CheckResult[]): string[] {
		const ranNow = new Set(ran.filter((c) => c.state !== 'not-run').map((c) => c.meta.id));
		const progress = readProgress(root);
		const failedNow = [...new Set(ran.filter((c) => c.state === 'failed').map((c) => c.meta.id))];
		return failedNow.flatMap((id) => {
			const metas = ran.filter((c) => c.meta.id === id && c.state === 'failed' && c.meta.requires.every((r) => !ranNow.has(r))).map((c) => c.meta);
			const notice = requiresNotice(metas, progress, this.text);
			return notice ? [notice] : [];
		});
	}

	/**
	 * A name filter (-t) that selected no lesson test: a mistyped id must not look like a run that
	 * checked something. The line that says so, with the lessons there are; undefined otherwise.
	 */
	private unmatchedFilter(root: string, ran: CheckResult[]): string | undefined {
		const pattern = this.vitest.config.testNamePattern;
		if (!pattern || ran.some((c) => c.state !== 'not-run')) return undefined;
		const ids = lessonsOf(courseChecks(root, ran)).map((l) => l.id);
		return painter(this.color)('yellow', texts(this.language).noLessonMatched(pattern instanceof RegExp ? pattern.source : String(pattern), ids.join(', ')));
	}

	private get text(): TextOptions {
		return { language: this.language, color: this.color };
	}

	/** A spec that did not load, or an error outside any test: the course's defect, never silent. Returns how many. */
	private printErrors(root: string, modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<Partial<SerializedError>>): number {
		const errors = [
			...modules.flatMap((m) => m.errors().map((e) => `${path.relative(root, m.moduleId)}: ${e.message}`)),
			...unhandled.map((e) => e.stack ?? e.message ?? String(e)),
		];
		for (const e of errors) this.print(`${e}\n`);
		return errors.length;
	}

	/**
	 * Watch mode: only the watched lesson's result and failures, no tables. The checks of one lesson
	 * often share their hint (2.3, 2.4, 2.5, 4.4): each failure's details leave it out, and the
	 * lesson's hints (each distinct one once) and its TODOs follow them.
	 */
	private reportOnly(root: string, ran: CheckResult[]): void {
		const own = ran.filter((c) => c.meta.id === this.options.only && c.state !== 'not-run');
		// first: a parent that did not pass last time is the likelier reason for a failure here
		for (const notice of this.unmetRequirements(root, own)) this.print(`${notice}\n`);
		const failed = own.filter((c) => c.state === 'failed');
		for (const c of failed) this.print(`${failureDetails(c, this.text, false)}\n`);
		if (failed.length) this.print(`${lessonHint(failed.map((c) => c.meta), studentTodos(root), this.text)}\n`);
		const lesson = lessonsOf(own)[0];
		if (lesson) this.print(`${lesson.id} ${lesson.title[this.language]}: ${lesson.earned}/${lesson.points}`);
	}

	/** Changed course files void the grade: the student must know before trusting the numbers, and how to put them back. Undefined when nothing changed. */
	private tamperingWarning(root: string): string | undefined {
		if (!isStudentWorkspace(root)) return undefined;
		const tampering = verifyWorkspace(root);
		if (isUntouched(tampering)) return undefined;
		const t = texts(this.language);
		const source = restoreSource(root);
		const restore = !source.git ? t.restoreByCopy : source.commit ? t.restoreFromCommit(source.commit.slice(0, 12)) : t.restoreFromHistory;
		return painter(this.color)('yellow', t.tampered(describeTampering(tampering), restore));
	}

	private remember(root: string, ran: CheckResult[]): void {
		const file = path.join(root, PROGRESS_FILE);
		const progress = readProgress(root) ?? { lessons: {} };
		const earned = (progress.earned ??= {});
		for (const l of lessonsOf(ran)) if (l.status !== 'not-run') [progress.lessons[l.id], earned[l.id]] = [l.status, l.earned];
		mkdirSync(path.dirname(file), { recursive: true });
		writeFileSync(file, `${JSON.stringify(progress, null, '\t')}\n`);
	}
}
