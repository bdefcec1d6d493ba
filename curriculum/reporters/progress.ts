// The student's reporter (npm test in a student workspace, npm run watch): a line per lesson test
// as it finishes, then every failure with its evidence, a table per chapter, and the next lesson
// with its hint. It keeps each lesson's latest status in results/progress.json for `npm run hint`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, TestCase, TestModule, Vitest } from 'vitest/node';
import { type Language, languageOf, texts } from '../i18n.js';
import { colorWanted, progressReport, failureDetails } from '../report-text.js';
import { type CheckResult, type LessonStatus, checksOf, lessonsOf } from '../results.js';
import { courseChecks, describeTampering, isStudentWorkspace, isUntouched, studentTodos, verifyWorkspace } from '../workspace.js';

export const PROGRESS_FILE = 'results/progress.json';

export interface ProgressFile {
	/** The latest status of each lesson that ran, by lesson number. */
	lessons: Record<string, LessonStatus>;
}

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

	onInit(vitest: Vitest): void {
		this.vitest = vitest;
	}

	onTestCaseResult(test: TestCase): void {
		const meta = test.meta().lesson;
		const { state } = test.result();
		if (!meta || (state !== 'passed' && state !== 'failed')) return;
		const seconds = ((test.diagnostic()?.duration ?? 0) / 1000).toFixed(1);
		this.print(`  ${state === 'passed' ? '✓' : '✗'} ${meta.id} ${meta.title[this.language]} (${seconds} s)`);
	}

	onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<{ message?: string; stack?: string }>): void {
		const root = this.vitest.config.root;
		const t = texts(this.language);
		const text = { language: this.language, color: this.color };
		const ran = checksOf(modules, root, 'lessons');
		this.print('');
		// a spec that did not load, or an error outside any test: the course's defect, never silent
		for (const m of modules) for (const e of m.errors()) this.print(`${path.relative(root, m.moduleId)}: ${e.message}\n`);
		for (const e of unhandledErrors) this.print(`${e.stack ?? e.message ?? String(e)}\n`);
		if (this.options.only) {
			const own = ran.filter((c) => c.meta.id === this.options.only && c.state !== 'not-run');
			for (const c of own.filter((c) => c.state === 'failed')) this.print(`${failureDetails(c, text)}\n`);
			const lesson = lessonsOf(own)[0];
			if (lesson) this.print(`${lesson.id} ${lesson.title[this.language]}: ${lesson.earned}/${lesson.points}`);
		} else {
			this.print(progressReport(lessonsOf(courseChecks(root, ran)), studentTodos(root), text));
		}
		if (isStudentWorkspace(root)) {
			const tampering = verifyWorkspace(root);
			if (!isUntouched(tampering)) this.print(`\n${t.tampered(describeTampering(tampering))}`);
		}
		this.remember(root, ran);
	}

	private remember(root: string, ran: CheckResult[]): void {
		const file = path.join(root, PROGRESS_FILE);
		const progress = readProgress(root) ?? { lessons: {} };
		for (const l of lessonsOf(ran)) if (l.status !== 'not-run') progress.lessons[l.id] = l.status;
		mkdirSync(path.dirname(file), { recursive: true });
		writeFileSync(file, `${JSON.stringify(progress, null, '\t')}\n`);
	}
}
