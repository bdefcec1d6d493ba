// A run's lesson tests, as the reporters see them: each check (one lesson() call) with its
// outcome, grouped into lessons (one lesson number, all its checks), with "blocked" worked out
// from the lessons each one requires.
import path from 'node:path';
import type { TestCase, TestModule } from 'vitest/node';
import { compareLessonIds } from './lesson-id.js';
import type { Bilingual, FailureEvidence, LessonMeta, StarterVerdict } from './lesson-meta.js';

export type CheckState = 'passed' | 'failed' | 'not-run';

export interface CheckResult {
	/** The test's name: "<id> <English title>". */
	name: string;
	/** The spec file, relative to the root. */
	spec: string;
	project: string;
	meta: LessonMeta;
	state: CheckState;
	durationMs: number;
	/** Set by lesson.ts when the lesson failed. */
	failure?: FailureEvidence;
	/** The first error as vitest has it: the only evidence when the test failed outside the lesson's body (a vitest timeout). */
	error?: string;
	/** Starter track only: how the lesson failed on its starter. */
	starter?: StarterVerdict;
}

export type LessonStatus = 'done' | 'failed' | 'blocked' | 'not-run';

export interface LessonResult {
	id: string;
	chapter: number;
	/** The title of its first check. */
	title: Bilingual;
	checks: CheckResult[];
	points: number;
	earned: number;
	status: LessonStatus;
	/** For a blocked lesson: the lessons it requires that ran and are not done. */
	blockedBy: string[];
	/** The status is remembered from an earlier run: the lesson was not selected in this one. */
	earlier?: boolean;
}

function stateOf(test: TestCase): CheckState {
	const { state } = test.result();
	return state === 'passed' || state === 'failed' ? state : 'not-run';
}

/** The lesson tests of the modules (of one project when given); tests without lesson meta are left out. */
export function checksOf(modules: ReadonlyArray<TestModule>, root: string, project?: string): CheckResult[] {
	const checks: CheckResult[] = [];
	for (const module of modules) {
		if (project !== undefined && module.project.name !== project) continue;
		for (const test of module.children.allTests()) {
			const { lesson, failure, starter } = test.meta();
			if (!lesson) continue;
			const result = test.result();
			checks.push({
				name: test.name,
				spec: path.relative(root, module.moduleId),
				project: module.project.name,
				meta: lesson,
				state: stateOf(test),
				durationMs: test.diagnostic()?.duration ?? 0,
				...(failure ? { failure } : {}),
				...(result.state === 'failed' && result.errors[0] ? { error: result.errors[0].message } : {}),
				...(starter ? { starter } : {}),
			});
		}
	}
	return checks.sort((a, b) => compareLessonIds(a.meta.id, b.meta.id) || a.spec.localeCompare(b.spec));
}

/** Checks grouped by lesson number, in course order, with blocked lessons marked. */
export function lessonsOf(checks: CheckResult[]): LessonResult[] {
	const byId = new Map<string, CheckResult[]>();
	for (const c of checks) byId.set(c.meta.id, [...(byId.get(c.meta.id) ?? []), c]);
	const lessons: LessonResult[] = [...byId.entries()]
		.sort(([a], [b]) => compareLessonIds(a, b))
		.map(([id, cs]) => {
			const ran = cs.filter((c) => c.state !== 'not-run');
			return {
				id,
				chapter: cs[0].meta.chapter,
				title: cs[0].meta.title,
				checks: cs,
				points: cs.reduce((n, c) => n + c.meta.points, 0),
				earned: cs.filter((c) => c.state === 'passed').reduce((n, c) => n + c.meta.points, 0),
				status: !ran.length ? 'not-run' : ran.length === cs.length && ran.every((c) => c.state === 'passed') ? 'done' : 'failed',
				blockedBy: [],
			};
		});
	settleBlocks(lessons, (l) => l.status === 'failed');
	return lessons;
}

/**
 * Marks blocked each lesson picked by `which` whose required lessons failed or are blocked, so a
 * student sees it wait for its parent instead of failing for the parent's reason. Course order:
 * a parent's own block is settled before its children look at it.
 */
function settleBlocks(lessons: LessonResult[], which: (l: LessonResult) => boolean): void {
	const status = new Map(lessons.map((l) => [l.id, l.status]));
	for (const l of lessons) {
		if (!which(l)) continue;
		const requires = [...new Set(l.checks.flatMap((c) => c.meta.requires))];
		l.blockedBy = requires.filter((r) => status.get(r) === 'failed' || status.get(r) === 'blocked');
		l.status = l.blockedBy.length ? 'blocked' : 'failed';
		status.set(l.id, l.status);
	}
}

/** What results/progress.json remembers of earlier runs: each lesson's latest status and points. */
export interface EarlierRuns {
	lessons: Record<string, LessonStatus>;
	/** Points earned by the lesson in that run (absent in files written before it was kept). */
	earned?: Record<string, number>;
}

/**
 * The combined picture of a filtered run (`-t 2.1`, one spec file): a lesson this run did not
 * reach takes its remembered status, marked earlier, so the tables and "Next" do not treat an
 * unselected lesson as new work. Lessons this run reached keep their own result; a remembered
 * failure or block is settled again against the combined picture (its parent may pass now).
 */
export function withEarlierRuns(lessons: LessonResult[], earlier: EarlierRuns | undefined): LessonResult[] {
	const combined = lessons.map((l) => {
		const status = earlier?.lessons[l.id];
		if (l.status !== 'not-run' || status === undefined || status === 'not-run') return l;
		const earned = status === 'done' ? l.points : Math.min(earlier?.earned?.[l.id] ?? 0, l.points);
		return { ...l, status, earned, blockedBy: [], earlier: true };
	});
	settleBlocks(combined, (l) => l.earlier === true && l.status !== 'done');
	return combined;
}

/**
 * The lesson a student should work on next, of lessons in course order: the first that failed
 * (blocked ones wait for their parent), else the first that has not run.
 */
export function nextLessonId(ids: string[], status: (id: string) => LessonStatus): string | undefined {
	return ids.find((id) => status(id) === 'failed') ?? ids.find((id) => status(id) === 'not-run');
}

/**
 * Whether the run broke before any lesson (the guest did not boot, a package is missing, no spec
 * loaded): no lesson test passed or failed, yet there are errors. Then the tables would only say
 * "not run" everywhere and send the student to lesson 1.1 for a fault that is not theirs.
 */
export function runFailedBeforeLessons(checks: CheckResult[], errors: number, reason?: 'passed' | 'failed' | 'interrupted'): boolean {
	// a failing global setup (the guest did not boot) reaches the reporter as a failed run with
	// no error of its own: vitest prints that error after the report
	return (errors > 0 || reason === 'failed') && checks.every((c) => c.state === 'not-run');
}

export function nextLesson(lessons: LessonResult[]): LessonResult | undefined {
	const byId = new Map(lessons.map((l) => [l.id, l]));
	const id = nextLessonId([...byId.keys()], (id) => byId.get(id)!.status);
	return id === undefined ? undefined : byId.get(id);
}

/** Requires that name no lesson of the run (only meaningful for a run of every spec). */
export function unknownRequires(checks: CheckResult[]): { check: string; requires: string }[] {
	const ids = new Set(checks.map((c) => c.meta.id));
	return checks.flatMap((c) => c.meta.requires.filter((r) => !ids.has(r)).map((r) => ({ check: c.name, requires: r })));
}
