// Lessons from checks (blocked, partial, not run, remembered from an earlier run), the grade in
// GitHub Classroom's format and shields.io's, the student's report in English and Japanese (its
// columns in terminal cells, a run that broke before any lesson), and the language choice.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import type { TestCase, TestModule, Vitest } from 'vitest/node';
import { badgeProblems, gradeOf, runnerResultProblems } from './grade.js';
import { type Language, languageOf } from './i18n.js';
import type { LessonMeta } from './lesson-meta.js';
import { displayWidth, progressReport, withoutAssertionSentence, progressTables, requiresNotice, rerunRule } from './report-text.js';
import ProgressReporter, { PROGRESS_FILE } from './reporters/progress.js';
import { type Manifest, MANIFEST } from './workspace.js';
import { type CheckResult, lessonsOf, nextLesson, nextLessonId, runFailedBeforeLessons, unknownRequires, withEarlierRuns } from './results.js';

function meta(id: string, extra: Partial<LessonMeta> = {}): LessonMeta {
	return {
		id,
		chapter: Number(id.split('.')[0]),
		title: { en: `Lesson ${id}`, ja: `レッスン ${id}` },
		hint: { en: `hint ${id}`, ja: `ヒント ${id}` },
		files: [`kernel/l${id}/l.c`],
		points: 1,
		requires: [],
		...extra,
	};
}

function check(id: string, state: CheckResult['state'], extra: Omit<Partial<CheckResult>, 'meta'> & { meta?: Partial<LessonMeta> } = {}): CheckResult {
	const { meta: m, ...rest } = extra;
	return { name: `${id} Lesson ${id}`, spec: `specs/${id}.spec.ts`, project: 'lessons', meta: meta(id, m), state, durationMs: 1500, ...rest };
}

const failure = (message: string): CheckResult['failure'] => ({
	kind: 'assertion',
	message,
	expected: "'Hello world.\\n'",
	actual: "''",
	consoles: [{ guest: 1, events: 'oops in hello_init', excerpt: 'BUG: kernel NULL pointer dereference\nRIP: hello_init' }],
	logs: ['results/2.1-x/guest-1.console.log'],
});

// 1.1 done; 2.1 failed; 2.2 needs 2.1 (blocked); 2.3 needs 2.2 (blocked through it);
// 2.4 has two checks of 2 and 3 points, one passed; 3.1 did not run; 1.2 failed
const checks: CheckResult[] = [
	check('1.1', 'passed'),
	check('1.2', 'failed', { failure: failure('expected 1 to be 2') }),
	check('2.1', 'failed', { failure: failure('expected the module to print Hello world.') }),
	check('2.2', 'failed', { meta: { requires: ['2.1'] }, failure: failure('blocked one') }),
	check('2.3', 'failed', { meta: { requires: ['2.2'] }, error: 'Test timed out in 150000ms.' }),
	check('2.4', 'passed', { name: '2.4 a', meta: { points: 2 } }),
	check('2.4', 'failed', { name: '2.4 b', meta: { points: 3 }, failure: failure('second check') }),
	check('3.1', 'not-run'),
];

describe('lessons', () => {
	const lessons = lessonsOf(checks);
	const byId = Object.fromEntries(lessons.map((l) => [l.id, l]));

	test('status, points and blocks', () => {
		expect(lessons.map((l) => [l.id, l.status, `${l.earned}/${l.points}`, l.blockedBy.join()])).toEqual([
			['1.1', 'done', '1/1', ''],
			['1.2', 'failed', '0/1', ''],
			['2.1', 'failed', '0/1', ''],
			['2.2', 'blocked', '0/1', '2.1'],
			['2.3', 'blocked', '0/1', '2.2'],
			['2.4', 'failed', '2/5', ''],
			['3.1', 'not-run', '0/1', ''],
		]);
		expect(byId['2.4'].checks.map((c) => c.name)).toEqual(['2.4 a', '2.4 b']);
	});

	test('a lesson whose parent did not run is not blocked by it (a filtered run)', () => {
		expect(lessonsOf([check('2.2', 'failed', { meta: { requires: ['2.1'] } })])[0].status).toBe('failed');
	});

	test('the next lesson is the first failed one, blocked ones wait, else the first not run', () => {
		expect(nextLesson(lessons)?.id).toBe('1.2');
		expect(nextLessonId(['1.1', '2.1', '2.2'], (id) => (id === '2.1' ? 'blocked' : id === '2.2' ? 'not-run' : 'done'))).toBe('2.2');
		expect(nextLessonId(['1.1'], () => 'done')).toBeUndefined();
	});

	test('requires that name no lesson', () => {
		expect(unknownRequires([check('2.2', 'passed', { meta: { requires: ['2.1', '9.9'] } }), check('2.1', 'passed')])).toEqual([
			{ check: '2.2 Lesson 2.2', requires: '9.9' },
		]);
	});
});

describe('grade', () => {
	const lessons = lessonsOf(checks);

	test('a runner result GitHub Classroom reads: one test per lesson, scored by the points of its passed checks', () => {
		const { runner, badge } = gradeOf(lessons);
		expect(runnerResultProblems(runner)).toEqual([]);
		expect(badgeProblems(badge)).toEqual([]);
		expect(runner.status).toBe('fail');
		expect(runner.max_score).toBe(11);
		expect(runner.tests.map((t) => [t.name, t.status, t.score, t.max_score])).toEqual([
			['1.1 Lesson 1.1', 'pass', 1, 1],
			['1.2 Lesson 1.2', 'fail', 0, 1],
			['2.1 Lesson 2.1', 'fail', 0, 1],
			['2.2 Lesson 2.2', 'fail', 0, 1],
			['2.3 Lesson 2.3', 'fail', 0, 1],
			['2.4 Lesson 2.4', 'fail', 2, 5],
			['3.1 Lesson 3.1', 'fail', 0, 1],
		]);
		const message = (id: string) => runner.tests.find((t) => t.name.startsWith(`${id} `))!.message;
		expect(message('2.2')).toBe('blocked by 2.1: make it pass first');
		expect(message('2.3')).toBe('blocked by 2.2: make it pass first');
		expect(message('2.4')).toBe('2.4 b: second check');
		expect(message('3.1')).toMatch(/^did not run/);
		expect(runner.tests[0].test_code).toBe('npx vitest run --project lessons -t "^1\\.1 "');
		expect(badge).toEqual({ schemaVersion: 1, label: 'lessons', message: '1/7', color: 'orange' });
	});

	test("a failure whose message holds a dump keeps its first line and the assertion's expected and actual, within a sane length", () => {
		const dump = ['on a pipe: the raw write at once, then the buffer at exit; strace saw:', 'write(1, "write: Hello world.\\n", 20) = 20', 'write(1, "printf: Hello world.\\n", 21) = 21', ': expected [ …(2) ] to deeply equal [ …(2) ]'].join('\n');
		const strace = check('1.1b', 'failed', { failure: { ...failure(dump)!, expected: "[\n  'write',\n  'stdio'\n]", actual: "[\n  'stdio',\n  'write'\n]" } });
		const noPair = check('1.2', 'failed', { failure: { ...failure(`first line\n${'x'.repeat(1000)}\nthe finding`)!, expected: undefined, actual: undefined } });
		const long = check('1.3', 'failed', { error: 'y'.repeat(1000) });
		const { runner } = gradeOf(lessonsOf([strace, noPair, long]));
		expect(runner.tests.map((t) => t.message)).toEqual([
			"1.1b Lesson 1.1b: on a pipe: the raw write at once, then the buffer at exit; strace saw: … expected [ 'write', 'stdio' ], got [ 'stdio', 'write' ]",
			'1.2 Lesson 1.2: first line … the finding',
			`1.3 Lesson 1.3: ${'y'.repeat(299)}…`,
		]);
	});

	test('all done is a pass with a green badge; nothing run is an error', () => {
		const all = gradeOf(lessonsOf([check('1.1', 'passed'), check('1.2', 'passed')]));
		expect(all.runner.status).toBe('pass');
		expect(all.badge).toMatchObject({ message: '2/2', color: 'brightgreen' });
		const none = gradeOf(lessonsOf([check('1.1', 'not-run')]));
		expect(none.runner.status).toBe('error');
		expect(runnerResultProblems(none.runner)).toEqual([]);
	});

	test('changed course files void every score', () => {
		const { runner, badge } = gradeOf(lessons, { modified: ['specs/1.1.spec.ts'], missing: [], added: ['specs/extra.spec.ts'] });
		expect(runnerResultProblems(runner)).toEqual([]);
		expect(runner.status).toBe('error');
		expect(runner.tests.every((t) => t.score === 0 && t.status === 'error')).toBe(true);
		expect(runner.tests[0].message).toBe("not graded: the course's files were changed: specs/1.1.spec.ts (changed), specs/extra.spec.ts (added)");
		expect(badge).toMatchObject({ message: 'tests changed', color: 'lightgrey' });
	});

	test('the format check finds what is wrong', () => {
		expect(runnerResultProblems({ version: 2, status: 'ok', max_score: 3, tests: [{ name: '', status: 'pass', score: 2, max_score: 1, message: 1 }] })).toEqual([
			'version must be 1',
			'status must be pass, fail or error',
			'tests[0].name must be a non-empty string',
			'tests[0].score must be a whole number from 0 to its max_score',
			'tests[0].message must be a string',
			'tests[0]: a passed test scores its max_score',
			"max_score (3) must be the sum of the tests' max_score (1)",
		]);
		expect(badgeProblems({ schemaVersion: 1, label: 'x', message: '', color: 'red' })).toEqual(['message must be a non-empty string']);
	});
});

describe("the student's report", () => {
	const lessons = lessonsOf(checks);
	const todos = [{ lesson: '1.2', file: 'userspace/busyloop/busyloop.c', line: 10, hint: 'loop forever', whole: false }];

	test('in English: failures with their evidence (not those of blocked lessons), tables, the next lesson', () => {
		const text = progressReport(lessons, todos, { language: 'en', color: false });
		expect(text).toContain('✗ 2.1 Lesson 2.1  (specs/2.1.spec.ts)\n  expected the module to print Hello world.');
		expect(text).not.toContain('Other lessons that failed');
		expect(text).toContain(
			[
				'✗ 1.2 Lesson 1.2  (specs/1.2.spec.ts)',
				"  Expected: 'Hello world.\\n'",
				"  Got: ''",
				'  Kernel console of guest 1 (oops in hello_init):',
				'    | BUG: kernel NULL pointer dereference',
				'    | RIP: hello_init',
				'  Full console log: results/2.1-x/guest-1.console.log',
				'  Hint: hint 1.2',
			].join('\n'),
		);
		expect(text).not.toContain('blocked one');
		expect(text).toContain('Chapter 2: Kernel modules   lessons 0/4   points 2/8');
		expect(text).toMatch(/^ {2}⊘ 2\.2 {3}Lesson 2\.2 +0\/1 \(blocked by 2\.1\)$/m);
		expect(text).toMatch(/^ {2}· 3\.1 {3}Lesson 3\.1 +0\/1 \(not run\)$/m);
		expect(text).toContain('Total: lessons 1/7, points 3/11');
		expect(text.endsWith(['Next: 1.2 Lesson 1.2', "  Run it alone: npm run watch -- 1.2 (again at every save), or once: npx vitest run -t '^1\\.2 '", '  Hint: hint 1.2', '  Files: kernel/l1.2/l.c', '    userspace/busyloop/busyloop.c:10  TODO(1.2): loop forever'].join('\n'))).toBe(true);
	});

	test('in Japanese', () => {
		const text = progressReport(lessons, todos, { language: 'ja', color: false });
		expect(text).toContain('第2章 カーネルモジュール   レッスン 0/4   得点 2/8');
		expect(text).toContain('(2.1 が先)');
		expect(text).toContain("次はこれ: 1.2 レッスン 1.2\n  このレッスンだけを実行: npm run watch -- 1.2（保存するたびに再実行）、または一度だけ: npx vitest run -t '^1\\.2 '\n  ヒント: ヒント 1.2");
		expect(text).toContain('合計: レッスン 1/7, 得点 3/11');
	});

	test('a TODO whose comment the student removed is shown by its file alone', () => {
		const gone = [{ lesson: '1.2', file: 'userspace/busyloop/busyloop.c', hint: 'loop forever', whole: false }];
		expect(progressReport(lessons, gone, { language: 'en', color: false })).toMatch(/\n {4}userspace\/busyloop\/busyloop\.c {2}TODO\(1\.2\): loop forever$/);
	});

	test("the assertion library's own sentence leaves the message when Expected and Got follow", () => {
		expect(withoutAssertionSentence("expected '' to be 'Hello world.\\n' // Object.is equality")).toBe('');
		expect(withoutAssertionSentence('insmod should be killed by the oops (SIGKILL: 128 + 9): expected +0 to be 137 // Object.is equality')).toBe('insmod should be killed by the oops (SIGKILL: 128 + 9)');
		expect(withoutAssertionSentence('gcc should warn; it printed:\nline 1\n: expected 0 to be greater than or equal to 5')).toBe('gcc should warn; it printed:\nline 1');
		expect(withoutAssertionSentence('the module should print: expected nothing else')).toBe('the module should print: expected nothing else');
		expect(withoutAssertionSentence('expected the module to print Hello world.')).toBe('expected the module to print Hello world.');
	});

	test('more than three failed lessons (the starters): the next one with its evidence, each other failure in a line, cut to fit a terminal', () => {
		const many = (last: string) => lessonsOf(['1.1', '1.2', '1.3', '1.4'].map((id, i) => check(id, 'failed', { failure: failure(i === 3 ? last : `failure of ${id}`) })));
		const text = progressReport(many('y'), [], { language: 'en', color: false });
		expect(text).toContain('✗ 1.1 Lesson 1.1  (specs/1.1.spec.ts)\n  failure of 1.1\n');
		expect(text).toContain(
			[
				'Other lessons that failed, first line only (npm run watch -- <lesson> shows a lesson in full, with its evidence):',
				'  ✗ 1.2 Lesson 1.2: failure of 1.2',
				'  ✗ 1.3 Lesson 1.3: failure of 1.3',
				'  ✗ 1.4 Lesson 1.4: y',
				'',
			].join('\n'),
		);
		const cut = progressReport(many('あ'.repeat(200)), [], { language: 'ja', color: false }).split('\n').find((l) => l.includes('✗ 1.4'))!;
		expect(cut.endsWith('…')).toBe(true);
		expect(displayWidth(cut)).toBeLessThanOrEqual(162);
	});

	test('a failure outside any lesson body (a vitest timeout) still shows what vitest said', () => {
		const text = progressReport(lessonsOf([check('2.3', 'failed', { error: 'Test timed out in 150000ms.' })]), [], { language: 'en', color: false });
		expect(text).toContain('✗ 2.3 Lesson 2.3  (specs/2.3.spec.ts)\n  Test timed out in 150000ms.');
	});

	test('everything done', () => {
		expect(progressReport(lessonsOf([check('1.1', 'passed')]), [], { language: 'en', color: false })).toMatch(/Every lesson is done\.$/);
	});
});

describe('a filtered run (-t 2.1): the lessons it did not reach', () => {
	// 2.1 ran and passed; before, 1.1 was done, 2.1 failed, 2.2 and 2.3 were blocked behind it, 2.4
	// failed with 2 of its 5 points; 1.2 and 3.1 never ran
	const now = lessonsOf([
		check('1.1', 'not-run'),
		check('1.2', 'not-run'),
		check('2.1', 'passed'),
		check('2.2', 'not-run', { meta: { requires: ['2.1'] } }),
		check('2.3', 'not-run', { meta: { requires: ['2.2'] } }),
		check('2.4', 'not-run', { meta: { points: 5 } }),
		check('3.1', 'not-run'),
	]);
	const earlier = { lessons: { '1.1': 'done', '2.1': 'failed', '2.2': 'blocked', '2.3': 'blocked', '2.4': 'failed' } as const, earned: { '2.4': 2 } };
	const combined = withEarlierRuns(now, earlier);

	test('take their remembered status and points, marked earlier; blocks are settled again', () => {
		expect(combined.map((l) => [l.id, l.status, `${l.earned}/${l.points}`, l.blockedBy.join(), l.earlier ?? false])).toEqual([
			['1.1', 'done', '1/1', '', true],
			['1.2', 'not-run', '0/1', '', false],
			['2.1', 'done', '1/1', '', false],
			['2.2', 'failed', '0/1', '', true],
			['2.3', 'blocked', '0/1', '2.2', true],
			['2.4', 'failed', '2/5', '', true],
			['3.1', 'not-run', '0/1', '', false],
		]);
		expect(withEarlierRuns(now, undefined)).toEqual(now);
	});

	test('the tables say which statuses are from an earlier run, and Next follows the combined picture', () => {
		const en = progressReport(combined, [], { language: 'en', color: false });
		expect(en).toMatch(/^ {2}✓ 1\.1 +Lesson 1\.1 +1\/1 \(earlier run\)$/m);
		expect(en).toMatch(/^ {2}· 1\.2 +Lesson 1\.2 +0\/1 \(not run\)$/m);
		expect(en).toMatch(/^ {2}✓ 2\.1 +Lesson 2\.1 +1\/1$/m);
		expect(en).toMatch(/^ {2}⊘ 2\.3 +Lesson 2\.3 +0\/1 \(blocked by 2\.2, earlier run\)$/m);
		expect(en).toContain('Total: lessons 2/7, points 4/11');
		expect(en).toContain('Next: 2.2 Lesson 2.2\n');
		const ja = progressReport(combined, [], { language: 'ja', color: false });
		expect(ja).toMatch(/^ {2}✓ 1\.1 +レッスン 1\.1 +1\/1 \(以前の実行結果\)$/m);
		expect(ja).toMatch(/^ {2}⊘ 2\.3 +レッスン 2\.3 +0\/1 \(2\.2 が先、以前の実行結果\)$/m);
		expect(ja).toContain('次はこれ: 2.2 レッスン 2.2');
	});
});

describe('terminal columns', () => {
	test('display width: CJK and fullwidth take two columns, combining marks none', () => {
		expect(displayWidth('Lesson 2.1')).toBe(10);
		expect(displayWidth('カーネルモジュール')).toBe(18);
		expect(displayWidth('한글 ＡＢ')).toBe(9);
		expect(displayWidth('ｶﾅ')).toBe(2); // halfwidth katakana
		expect(displayWidth('e\u0301te\u0301')).toBe(3);
	});

	test('every row of a table has its points at the same column, English or Japanese, long titles cut', () => {
		const titled = (id: string, en: string, ja: string) => check(id, 'passed', { meta: { title: { en, ja } } });
		const lessons = lessonsOf([
			titled('1.1', 'Hello', 'こんにちは'),
			titled('1.2', 'ClamAV signatures', 'ClamAV signatures'),
			titled('1.3', 'A long English title '.repeat(5), '長い日本語のタイトルです'.repeat(6)),
			titled('1.4', 'Mixed', 'ClamAV の署名 (ｶﾅ) と が\u3099'),
		]);
		for (const language of ['en', 'ja'] as Language[]) {
			const rows = progressTables(lessons, { language, color: false }).split('\n').filter((r) => r.startsWith('  '));
			expect(rows).toHaveLength(4);
			expect(rows.map(displayWidth)).toEqual(rows.map(() => 2 + 2 + 6 + 64 + 1 + 5));
			expect(rows[2]).toContain('…');
		}
	});
});

describe('the end of a run', () => {
	test('a run that broke before any lesson is told from the data: errors, and no lesson test passed or failed', () => {
		expect(runFailedBeforeLessons([], 1)).toBe(true);
		expect(runFailedBeforeLessons([check('1.1', 'not-run')], 2)).toBe(true);
		expect(runFailedBeforeLessons([check('1.1', 'not-run'), check('1.2', 'failed')], 1)).toBe(false);
		expect(runFailedBeforeLessons([check('1.1', 'not-run')], 0)).toBe(false);
		// a global setup that threw: vitest ends the run as failed and keeps the error to itself
		expect(runFailedBeforeLessons([check('1.1', 'not-run')], 0, 'failed')).toBe(true);
		expect(runFailedBeforeLessons([check('1.1', 'failed')], 0, 'failed')).toBe(false);
	});

	interface EndOptions {
		/** A student workspace: this manifest in curriculum/student-workspace.json (a folder without git: its own copy is trusted). */
		manifest?: Partial<Manifest>;
		/** vitest's -t. */
		testNamePattern?: RegExp;
	}

	/**
	 * What the progress reporter prints at the end of a run in a fresh folder with `progress` as
	 * results/progress.json, and the exit status it leaves (process.exitCode, restored after).
	 */
	function reportEnd(language: Language, progress: string | undefined, modules: TestModule[], errors: { message: string; stack?: string }[], o: EndOptions = {}) {
		const root = mkdtempSync(path.join(tmpdir(), 'lab-progress-'));
		const file = path.join(root, PROGRESS_FILE);
		if (progress !== undefined) {
			mkdirSync(path.dirname(file));
			writeFileSync(file, progress);
		}
		if (o.manifest) {
			mkdirSync(path.join(root, 'curriculum'));
			writeFileSync(path.join(root, MANIFEST), JSON.stringify({ checks: [], todos: [], protected: {}, ...o.manifest }));
		}
		const reporter = new ProgressReporter({ language });
		reporter.onInit({ config: { root, testNamePattern: o.testNamePattern } } as unknown as Vitest);
		const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
		const exitCode = process.exitCode;
		try {
			reporter.onTestRunEnd(modules, errors);
			return { out: write.mock.calls.map(([s]) => String(s)).join(''), progress: existsSync(file) ? readFileSync(file, 'utf8') : undefined, exitCode: process.exitCode };
		} finally {
			process.exitCode = exitCode;
			write.mockRestore();
			rmSync(root, { recursive: true, force: true });
		}
	}

	test('a run that broke before any lesson reports its error and one line saying so: no tables, no next lesson, results/progress.json kept', () => {
		const booted = { message: 'the guest did not boot', stack: 'Error: the guest did not boot\n    at globalSetup' };
		const en = reportEnd('en', undefined, [], [booted]);
		expect(en.out).toContain('Error: the guest did not boot\n    at globalSetup');
		expect(en.out).toContain('No lesson ran: the run broke down before its first lesson');
		expect(en.out).not.toMatch(/Total|Next|not run/);
		expect(en.progress).toBeUndefined();
		const ja = reportEnd('ja', '{"lessons":{"1.1":"done"}}', [], [booted]);
		expect(ja.out).toContain('レッスンは一つも実行されていません');
		expect(ja.out).not.toMatch(/合計|次はこれ/);
		expect(ja.progress).toBe('{"lessons":{"1.1":"done"}}');
	});

	/** A spec module of these lesson tests, as vitest hands it to a reporter. */
	const moduleOf = (tests: CheckResult[]) =>
		({
			project: { name: 'lessons' },
			moduleId: '/nowhere/specs/2.4.spec.ts',
			errors: () => [],
			children: {
				allTests: () =>
					tests.map((c) => ({ name: c.name, meta: () => ({ lesson: c.meta }), result: () => ({ state: c.state === 'not-run' ? 'skipped' : c.state, errors: [] }), diagnostic: () => ({ duration: 1 }) })),
			},
		}) as unknown as TestModule;

	test('a run that reached lessons remembers their status and points for the next filtered run', () => {
		const module = moduleOf([check('2.4', 'passed', { name: '2.4 a', meta: { points: 2 } }), check('2.4', 'failed', { name: '2.4 b', meta: { points: 3 } })]);
		const { out, progress, exitCode } = reportEnd('en', undefined, [module], []);
		expect(out).toContain('Total: lessons 0/1, points 2/5');
		expect(JSON.parse(progress!)).toEqual({ lessons: { '2.4': 'failed' }, earned: { '2.4': 2 } });
		expect(exitCode).toBeUndefined();
	});

	test('a -t filter that matched no lesson test: one line naming the lessons, no tables, and the run fails', () => {
		const module = moduleOf([check('1.1', 'not-run'), check('2.4', 'not-run')]);
		const en = reportEnd('en', undefined, [module], [], { testNamePattern: /^9\.9 / });
		expect(en.out.trim()).toBe("No lesson test matched the filter -t '^9\\.9 ', so nothing was checked; the lessons are: 1.1, 2.4.");
		expect(en.exitCode).toBe(1);
		expect(en.progress).toBeUndefined();
		const ja = reportEnd('ja', undefined, [module], [], { testNamePattern: /^9\.9 / });
		expect(ja.out.trim()).toBe("フィルタ -t '^9\\.9 ' に一致するレッスンのテストがないため、何も確かめていません。レッスンは次のとおりです: 1.1, 2.4");
		// the same tests with no filter: a run of nothing is not the student's mistake
		expect(reportEnd('en', undefined, [module], []).exitCode).toBeUndefined();
	});

	test('a workspace whose course files changed: the warning comes before the tables and again last, and the run fails', () => {
		const module = moduleOf([check('1.1', 'passed', { name: '1.1 Lesson 1.1' })]);
		const manifest = { checks: [{ name: '1.1 Lesson 1.1', spec: 'specs/1.1.spec.ts', meta: meta('1.1') }], protected: { 'specs/1.1.spec.ts': 'a checksum' } };
		for (const [language, warning] of [
			['en', "The course's own files differ from the ones you were given, so this run is not graded: specs/1.1.spec.ts (deleted)."],
			['ja', '配布された教材のファイルが変更されているため、この結果は採点されません: specs/1.1.spec.ts (deleted)。'],
		] as const) {
			const { out, exitCode } = reportEnd(language, undefined, [module], [], { manifest });
			const total = out.indexOf(language === 'en' ? 'Total: lessons 1/1' : '合計: レッスン 1/1');
			expect(total, out).toBeGreaterThan(0);
			expect(out.indexOf(warning), out).toBeGreaterThan(-1);
			expect(out.indexOf(warning), 'warned before the tables').toBeLessThan(total);
			expect(out.trim().split('\n').at(-1), 'and as the last line').toContain(warning);
			expect(exitCode).toBe(1);
		}
		// and it is not remembered: hint and Next keep the last honest run
		expect(reportEnd('en', '{"lessons":{"1.1":"failed"}}', [module], [], { manifest }).progress).toBe('{"lessons":{"1.1":"failed"}}');
	});

	test('a lesson run alone (-t 2.2) that fails while the lesson it requires did not pass last time says so first', () => {
		const module = moduleOf([check('2.2', 'failed', { meta: { requires: ['2.1'] }, failure: failure('insmod failed') })]);
		const { out } = reportEnd('en', '{"lessons":{"2.1":"failed"}}', [module], []);
		expect(out.trimStart().startsWith('2.2 needs 2.1 first: it did not pass in your last run.'), out).toBe(true);
		// when 2.1 passed last time, or ran in this same run, the tables say it all
		expect(reportEnd('en', '{"lessons":{"2.1":"done"}}', [module], []).out).not.toContain('needs 2.1 first');
		const both = moduleOf([check('2.1', 'failed', { failure: failure('x') }), check('2.2', 'failed', { meta: { requires: ['2.1'] }, failure: failure('y') })]);
		expect(reportEnd('en', '{"lessons":{"2.1":"failed"}}', [both], []).out).not.toContain('needs 2.1 first');
	});
});

test('the line of each finished test: a failure whose required lesson failed earlier in the run is shown blocked, as the tables show it', () => {
	const reporter = new ProgressReporter({ language: 'en' });
	const testCase = (c: CheckResult) => ({ meta: () => ({ lesson: c.meta }), result: () => ({ state: c.state }), diagnostic: () => ({ duration: 1500 }) }) as unknown as TestCase;
	const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
	try {
		for (const c of [check('2.1', 'failed'), check('2.2', 'failed', { meta: { requires: ['2.1'] } }), check('2.4', 'passed', { meta: { requires: ['2.1'] } }), check('3.1', 'failed', { meta: { requires: ['1.1'] } })]) reporter.onTestCaseResult(testCase(c));
		expect(write.mock.calls.map(([s]) => String(s)).join('')).toBe(
			['  ✗ 2.1 Lesson 2.1 (1.5 s)', '  ⊘ 2.2 Lesson 2.2 (1.5 s, blocked by 2.1)', '  ✓ 2.4 Lesson 2.4 (1.5 s)', '  ✗ 3.1 Lesson 3.1 (1.5 s)', ''].join('\n'),
		);
	} finally {
		write.mockRestore();
	}
});

test('watch mode: a rule with the local time and the changed file before each rerun, and the watching line again after it', () => {
	const at = new Date(2026, 11, 4, 9, 5, 7);
	const en = rerunRule(at, 'userspace/hello/hello.c', { language: 'en', color: false });
	expect(en).toMatch(/^──── 09:05:07 userspace\/hello\/hello\.c changed: running again ─+$/);
	expect(displayWidth(en)).toBe(80);
	const ja = rerunRule(at, 'userspace/hello/hello.c', { language: 'ja', color: false });
	expect(ja).toMatch(/^──── 09:05:07 userspace\/hello\/hello\.c が変更されたので再実行します ─+$/);
	expect(displayWidth(ja)).toBe(80);
	expect(rerunRule(at, undefined, { language: 'en', color: false })).toMatch(/^──── 09:05:07 running again ─+$/);

	const reporter = new ProgressReporter({ language: 'en', only: '1.1' });
	const root = mkdtempSync(path.join(tmpdir(), 'lab-watch-'));
	reporter.onInit({ config: { root } } as unknown as Vitest);
	reporter.watching = 'Watching userspace/hello: save a file to run the lesson again (Ctrl-C stops).';
	const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
	try {
		reporter.onWatcherRerun([], 'userspace/hello/hello.c');
		reporter.onTestRunEnd([], []);
		const out = write.mock.calls.map(([s]) => String(s)).join('');
		expect(out).toMatch(/^\n──── \d\d:\d\d:\d\d userspace\/hello\/hello\.c changed: running again ─+\n/);
		expect(out.endsWith('\nWatching userspace/hello: save a file to run the lesson again (Ctrl-C stops).\n')).toBe(true);
	} finally {
		write.mockRestore();
		rmSync(root, { recursive: true, force: true });
	}
});

test('a lesson asked for whose required lessons did not pass in the last run says so first (hint, watch)', () => {
	const m = [meta('4.3', { requires: ['4.1', '4.2'] })];
	const en = { language: 'en', color: false } as const;
	expect(requiresNotice(m, { lessons: { '4.1': 'failed', '4.2': 'blocked' } }, en)).toBe('4.3 needs 4.1, 4.2 first: they did not pass in your last run.');
	expect(requiresNotice(m, { lessons: { '4.1': 'done', '4.2': 'failed' } }, en)).toBe('4.3 needs 4.2 first: it did not pass in your last run.');
	expect(requiresNotice(m, { lessons: { '4.1': 'failed' } }, { language: 'ja', color: false })).toBe('4.3 の前に 4.1 を済ませてください: 前回の実行で合格していません。');
	// done, or never reached by a run: nothing to say
	expect(requiresNotice(m, { lessons: { '4.1': 'done' } }, en)).toBeUndefined();
	expect(requiresNotice(m, undefined, en)).toBeUndefined();

	// watch mode's report of 4.3 starts with it
	const root = mkdtempSync(path.join(tmpdir(), 'lab-watch-'));
	mkdirSync(path.join(root, 'results'));
	writeFileSync(path.join(root, PROGRESS_FILE), JSON.stringify({ lessons: { '4.1': 'done', '4.2': 'failed' } }));
	const reporter = new ProgressReporter({ language: 'en', only: '4.3' });
	reporter.onInit({ config: { root } } as unknown as Vitest);
	const module = {
		project: { name: 'lessons' },
		moduleId: path.join(root, 'specs/4.3.spec.ts'),
		errors: () => [],
		children: { allTests: () => [{ name: '4.3 Lesson 4.3', meta: () => ({ lesson: m[0] }), result: () => ({ state: 'failed', errors: [] }), diagnostic: () => ({ duration: 1 }) }] },
	} as unknown as TestModule;
	const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
	try {
		reporter.onTestRunEnd([module], []);
		expect(write.mock.calls.map(([s]) => String(s)).join('')).toMatch(/^\n4\.3 needs 4\.2 first: it did not pass in your last run\.\n\n✗ 4\.3 Lesson 4\.3/);
	} finally {
		write.mockRestore();
		rmSync(root, { recursive: true, force: true });
	}
});

test('the language: LAB_LANG, else LC_ALL, LC_MESSAGES, LANG', () => {
	expect(languageOf({ LANG: 'ja_JP.UTF-8' })).toBe('ja');
	expect(languageOf({ LANG: 'en_US.UTF-8' })).toBe('en');
	expect(languageOf({ LC_ALL: 'C', LANG: 'ja_JP.UTF-8' })).toBe('en');
	expect(languageOf({ LC_MESSAGES: 'ja_JP', LANG: 'C' })).toBe('ja');
	expect(languageOf({ LAB_LANG: 'en', LANG: 'ja_JP.UTF-8' })).toBe('en');
	expect(languageOf({ LAB_LANG: 'ja' })).toBe('ja');
	expect(languageOf({ LANG: 'jam' })).toBe('en');
	expect(languageOf({})).toBe('en');
});
