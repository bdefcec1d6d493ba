// The grade of a run, in the two formats GitHub tools read: the runner result that GitHub
// Classroom's autograding-grading-reporter sums (one test per lesson, its score the points of its
// passed checks), and a shields.io endpoint for a badge (lessons done / lessons).
import type { CheckResult, LessonResult } from './results.js';
import { type Tampering, describeTampering, isUntouched } from './workspace.js';

export type RunnerStatus = 'pass' | 'fail' | 'error';

/** One entry of tests[] in a runner result. */
export interface RunnerTest {
	name: string;
	status: RunnerStatus;
	score: number;
	max_score: number;
	message: string;
	test_code: string;
	filename: string;
	line_no: number;
	execution_time: string;
}

/** What an autograding runner step emits (base64 of this JSON in its "result" output). */
export interface RunnerResult {
	version: 1;
	status: RunnerStatus;
	max_score: number;
	tests: RunnerTest[];
}

export interface ShieldsEndpoint {
	schemaVersion: 1;
	label: string;
	message: string;
	color: string;
}

export interface Grade {
	runner: RunnerResult;
	badge: ShieldsEndpoint;
}

/** The most characters of each part of a finding: Classroom shows the message in a table cell. */
const PART_MAX = 300;
const clip = (s: string) => (s.length > PART_MAX ? `${s.slice(0, PART_MAX - 1)}…` : s);
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/**
 * What a failed check found, on one line. A message of several lines is a sentence, then a dump
 * ("...; strace saw:" and what it saw), and the assertion at its end: the first line alone loses the
 * finding, the dump is too long. So: the first line, then what was expected and what came (or the
 * message's last line when there is no such pair), each cut to PART_MAX.
 */
export function findingOf(c: CheckResult): string {
	const lines = (c.failure?.message ?? c.error ?? 'failed').split('\n').map((l) => l.trim()).filter(Boolean);
	if (lines.length <= 1) return clip(lines[0] ?? 'failed');
	const f = c.failure;
	const summary = f?.expected !== undefined ? `expected ${oneLine(f.expected)}, got ${oneLine(f.actual ?? 'undefined')}` : lines.at(-1)!;
	return `${clip(lines[0])} … ${clip(summary)}`;
}

function messageOf(l: LessonResult): string {
	if (l.status === 'done') return '';
	if (l.status === 'not-run') return 'did not run (its spec failed to load, or the run was cut short)';
	if (l.status === 'blocked') return `blocked by ${l.blockedBy.join(', ')}: make it pass first`;
	return l.checks
		.filter((c) => c.state !== 'passed')
		.map((c) => `${c.name}: ${c.state === 'failed' ? findingOf(c) : 'did not run'}`)
		.join('\n');
}

/**
 * The grade of these lessons. `tampering` (a workspace's protected files that changed) voids
 * every score: the run proves nothing about the student's work.
 */
export function gradeOf(lessons: LessonResult[], tampering?: Tampering): Grade {
	const tampered = tampering !== undefined && !isUntouched(tampering);
	const tests: RunnerTest[] = lessons.map((l) => ({
		name: `${l.id} ${l.title.en}`,
		status: tampered ? 'error' : l.status === 'done' ? 'pass' : 'fail',
		score: tampered ? 0 : l.earned,
		max_score: l.points,
		message: tampered ? `not graded: the course's files were changed: ${describeTampering(tampering)}` : messageOf(l),
		test_code: `npx vitest run --project lessons -t "^${l.id.replace('.', '\\.')} "`,
		filename: l.checks[0]?.spec ?? '',
		line_no: 0,
		execution_time: `${(l.checks.reduce((n, c) => n + c.durationMs, 0) / 1000).toFixed(1)}s`,
	}));
	const ran = lessons.some((l) => l.status !== 'not-run');
	const status: RunnerStatus = tampered || !ran ? 'error' : tests.every((t) => t.status === 'pass') ? 'pass' : 'fail';
	const done = lessons.filter((l) => l.status === 'done').length;
	const share = lessons.length ? done / lessons.length : 0;
	return {
		runner: { version: 1, status, max_score: lessons.reduce((n, l) => n + l.points, 0), tests },
		badge: {
			schemaVersion: 1,
			label: 'lessons',
			message: tampered ? 'tests changed' : `${done}/${lessons.length}`,
			color: tampered ? 'lightgrey' : share === 1 ? 'brightgreen' : share >= 0.5 ? 'yellow' : share > 0 ? 'orange' : 'red',
		},
	};
}

/** Problems with a runner result, against the format the Classroom reporter reads; empty when valid. */
export function runnerResultProblems(value: unknown): string[] {
	const problems: string[] = [];
	const r = value as Partial<RunnerResult>;
	if (typeof value !== 'object' || value === null) return ['not an object'];
	if (r.version !== 1) problems.push('version must be 1');
	if (!['pass', 'fail', 'error'].includes(r.status as string)) problems.push('status must be pass, fail or error');
	if (!Number.isInteger(r.max_score) || (r.max_score as number) < 0) problems.push('max_score must be a whole number >= 0');
	if (!Array.isArray(r.tests)) return [...problems, 'tests must be an array'];
	let sum = 0;
	r.tests.forEach((t, i) => {
		const at = `tests[${i}]`;
		if (typeof t.name !== 'string' || !t.name) problems.push(`${at}.name must be a non-empty string`);
		if (!['pass', 'fail', 'error'].includes(t.status)) problems.push(`${at}.status must be pass, fail or error`);
		if (!Number.isInteger(t.score) || t.score < 0 || t.score > t.max_score) problems.push(`${at}.score must be a whole number from 0 to its max_score`);
		if (typeof t.message !== 'string') problems.push(`${at}.message must be a string`);
		if (t.status === 'pass' && t.score !== t.max_score) problems.push(`${at}: a passed test scores its max_score`);
		sum += t.max_score;
	});
	if (sum !== r.max_score) problems.push(`max_score (${r.max_score}) must be the sum of the tests' max_score (${sum})`);
	if (r.status === 'pass' && r.tests.some((t) => t.status !== 'pass')) problems.push('status is pass but a test is not');
	return problems;
}

/** Problems with a shields.io endpoint badge; empty when valid. */
export function badgeProblems(value: unknown): string[] {
	const b = value as Partial<ShieldsEndpoint>;
	const problems: string[] = [];
	if (b.schemaVersion !== 1) problems.push('schemaVersion must be 1');
	if (typeof b.label !== 'string') problems.push('label must be a string');
	if (typeof b.message !== 'string' || !b.message) problems.push('message must be a non-empty string');
	if (typeof b.color !== 'string' || !b.color) problems.push('color must be a non-empty string');
	return problems;
}
