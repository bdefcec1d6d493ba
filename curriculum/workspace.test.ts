// A student's whole journey, for real: the classroom template exported from this course, lesson
// 1.1 failing on its starter with its evidence, the grade and badge in their formats, the hint,
// watch mode seeing the fix and passing, the grade after it, and a spec edited to pass detected.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot } from '../guest/paths.js';
import { scanExercises } from './exercises.js';
import { badgeProblems, runnerResultProblems, type RunnerResult } from './grade.js';
import { BADGE_FILE, GRADE_FILE } from './reporters/grade.js';
import { type ChildRun, childEnv, linkNodeModules, runIn } from './testing.js';
import { MANIFEST, UPSTREAM_ONLY, WORKSPACE_README, courseFiles, currentTodos, exportWorkspace, isStudentWorkspace, isUntouched, readManifest, trustedManifest, verifyWorkspace } from './workspace.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'lab-workspace-'));
const ws = path.join(scratch, 'template');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const read = (file: string) => readFileSync(path.join(ws, file), 'utf8');
const HELLO = 'userspace/hello/hello.c';
const HELLO_SPEC = 'specs/01-userspace/1.1-hello.spec.ts';
const HELLO_TITLE = '1.1 Hello world from a user-space C program';

/** Lesson 1.1 as the workflow's shard job runs it: the progress report, and a blob for the grade. */
const runLesson11 = () =>
	runIn(ws, 'vitest', ['run', HELLO_SPEC, '--maxWorkers=1', '--reporter=./curriculum/reporters/progress.ts', '--reporter=blob', '--outputFile.blob=.vitest-reports/blob-1.json']);
/** The grade job: merge the blobs, grade. */
const grade = (): ChildRun & { runner: RunnerResult; badge: unknown } => {
	const run = runIn(ws, 'vitest', ['run', '--merge-reports', '--reporter=./curriculum/reporters/grade.ts']);
	return { ...run, runner: JSON.parse(read(GRADE_FILE)) as RunnerResult, badge: JSON.parse(read(BADGE_FILE)) };
};

let exported: ChildRun;
/** git status right after the export, before node_modules is linked in (a student runs npm ci). */
let changesAfterExport: string;
beforeAll(() => {
	exported = runIn(repoRoot, 'tsx', ['curriculum/cli/export.ts', 'classroom', ws]);
	changesAfterExport = execFileSync('git', ['status', '--porcelain'], { cwd: ws, encoding: 'utf8' });
	linkNodeModules(ws);
}, 600_000);

describe('the classroom template', () => {
	test('is written, as a git repository with one commit and nothing left to commit', () => {
		expect(exported.status, exported.output).toBe(0);
		expect(exported.output).toContain(`Classroom template written to ${ws}`);
		expect(execFileSync('git', ['log', '--format=%s'], { cwd: ws, encoding: 'utf8' })).toMatch(/^Exercises of kernel-security-lab [0-9a-f]+(\+dirty)?\n$/);
		expect(changesAfterExport).toBe('');
	});

	test('has starters instead of solutions, the specs and the workflow, no upstream CI, reliability track, self-tests or sidecars', () => {
		expect(read(HELLO)).toContain('/* TODO(1.1): ');
		expect(read(HELLO)).not.toContain('printf(');
		expect(scanExercises(ws).regions).toEqual([]);
		expect(read(HELLO_SPEC)).toBe(readFileSync(path.join(repoRoot, HELLO_SPEC), 'utf8'));
		expect(existsSync(path.join(ws, '.github/workflows/lessons.yml'))).toBe(true);
		expect(existsSync(path.join(ws, '.ci'))).toBe(false);
		const files = execFileSync('git', ['ls-files'], { cwd: ws, encoding: 'utf8' }).split('\n');
		expect(files.filter((f) => UPSTREAM_ONLY.some((dir) => f.startsWith(dir))), 'the reliability track stays upstream').toEqual([]);
		expect(files.filter((f) => f.endsWith('.test.ts') || f.endsWith('.todo'))).toEqual([]);
	});

	test('has a manifest: the lessons, where the TODOs are, checksums of everything but the exercises', () => {
		expect(isStudentWorkspace(ws)).toBe(true);
		const manifest = readManifest(ws);
		expect(manifest.checks.find((c) => c.name === HELLO_TITLE)?.meta).toMatchObject({ id: '1.1', chapter: 1, points: 1, files: [HELLO] });
		expect(manifest.todos.find((t) => t.lesson === '1.1')).toMatchObject({ file: HELLO, whole: false });
		expect(read(HELLO).split('\n')[manifest.todos.find((t) => t.lesson === '1.1')!.line! - 1]).toContain('TODO(1.1)');
		expect(manifest.protected).toHaveProperty([HELLO_SPEC]);
		expect(manifest.protected).toHaveProperty(['guest/lesson.ts']);
		expect(manifest.protected).not.toHaveProperty([HELLO]);
		expect(manifest.protected).not.toHaveProperty([MANIFEST]);
		expect(verifyWorkspace(ws)).toEqual({ modified: [], missing: [], added: [] });
	});

	test("has the student's README (how to work here), not the course's (which is about the solutions)", () => {
		expect(read('README.md')).toBe(readFileSync(path.join(repoRoot, WORKSPACE_README), 'utf8'));
		expect(read('README.md')).not.toBe(readFileSync(path.join(repoRoot, 'README.md'), 'utf8'));
		expect(existsSync(path.join(ws, WORKSPACE_README))).toBe(false);
	});

	test('its README shows a TODO as the starters really have it', () => {
		const example = /```c\n(.*TODO\(1\.1\).*)\n```/.exec(read('README.md'));
		expect(example, 'the README shows the TODO of 1.1').not.toBeNull();
		expect(read(HELLO).split('\n')).toContain(example![1]);
		expect(read('README.md')).not.toMatch(/TODO\([\d.]+\) (BEGIN|END)/);
	});
});

test("the TODOs' lines in a workspace are where their comments are now, not in the starter", () => {
	const dir = mkdtempSync(path.join(scratch, 'todos-'));
	const todo = (lesson: string, line: number, hint: string, file = 'a.c') => ({ lesson, file, line, hint, whole: false });
	// the starter had: 1 TODO(2.5) SZ_8K, 2 TODO(2.5) SZ_8K + SZ_4K, 3 TODO(2.6) x, 4 TODO(2.7) y
	const manifest = [todo('2.5', 1, 'SZ_8K'), todo('2.5', 2, 'SZ_8K + SZ_4K'), todo('2.6', 3, 'x'), todo('2.7', 4, 'y'), todo('2.8', 1, 'z', 'gone.c'), { ...todo('3.3', 1, 'w', 'a.ndb'), whole: true }];
	// the student wrote above them, removed the first and the TODO of 2.7, edited the hint of 2.6
	writeFileSync(path.join(dir, 'a.c'), ['int a;', 'int b;', '\t/* TODO(2.5): SZ_8K + SZ_4K */', 'int c;', '\t/* TODO(2.6): x, as I read it */', ''].join('\n'));
	expect(currentTodos(dir, manifest).map((t) => `${t.lesson} ${t.file}:${t.line ?? '-'}`)).toEqual(['2.5 a.c:-', '2.5 a.c:3', '2.6 a.c:5', '2.7 a.c:-', '2.8 gone.c:-', '3.3 a.ndb:1']);
});

describe('npm run skels', () => {
	const options = { index: scanExercises(repoRoot), files: courseFiles(repoRoot), checks: [], classroom: false, exportedFrom: 'test' };

	test('a workspace without the workflow, not a git repository', () => {
		const dest = path.join(scratch, 'skels');
		exportWorkspace({ ...options, dest });
		expect(isStudentWorkspace(dest)).toBe(true);
		expect(existsSync(path.join(dest, HELLO))).toBe(true);
		expect(existsSync(path.join(dest, '.github'))).toBe(false);
		expect(existsSync(path.join(dest, '.git'))).toBe(false);
		expect(verifyWorkspace(dest)).toEqual({ modified: [], missing: [], added: [] });
		expect(() => exportWorkspace({ ...options, dest })).toThrow(`${dest} is not empty`);
	});

	test('a destination that cannot take a workspace: one line and status 1, no stack trace, nothing left behind', () => {
		const file = path.join(scratch, 'a-file');
		writeFileSync(file, '');
		const cases: { dir: string; says: string; status?: number; env?: Record<string, string> }[] = [
			// Node's own recursive mkdir never returns here: /proc exists and says ENOENT
			{ dir: '/proc/nope/ws', says: '/proc/nope/ws: cannot create the folder /proc/nope: /proc exists but takes no new folders' },
			{ dir: path.join(file, 'ws'), says: `${path.join(file, 'ws')}: ${file} is a file, not a folder` },
			{ dir: path.dirname(HELLO_SPEC), says: 'write the workspace outside the course repository', status: 2, env: { INIT_CWD: repoRoot } },
			// relative to where npm was run (INIT_CWD), not to the course repository; the file named once
			{ dir: 'a-file', says: 'a-file is a file, not a folder, so the workspace cannot go there.\n', env: { INIT_CWD: scratch } },
			{ dir: 'a-file', says: 'a-file はフォルダではなくファイルなので', env: { INIT_CWD: scratch, LAB_LANG: 'ja' } },
		];
		for (const c of cases) {
			const r = runIn(repoRoot, 'tsx', ['curriculum/cli/export.ts', 'skels', c.dir], c.env ?? {}, 60_000);
			expect(r.output, `npm run skels -- ${c.dir}`).toContain(c.says);
			expect(r.output.trim().split('\n'), `one line, no stack trace:\n${r.output}`).toHaveLength(1);
			expect(r.status, r.output).toBe(c.status ?? 1);
		}
		const usage = runIn(repoRoot, 'tsx', ['curriculum/cli/export.ts', 'skels'], {}, 60_000);
		expect(usage).toEqual({ status: 2, output: 'usage: npm run skels -- DIR (a new or empty folder outside the course repository)\n' });
		expect(existsSync('/proc/nope')).toBe(false);
	});

	test('is refused in a student workspace: it has no solutions', () => {
		expect(() => exportWorkspace({ ...options, index: scanExercises(ws), dest: path.join(scratch, 'again') })).toThrow(`${ws} is a student workspace already`);
	});
});

describe("the student's runs", () => {
	let first: ChildRun;
	beforeAll(() => {
		first = runLesson11();
	}, 600_000);

	// (the console excerpt is there when the guest printed something: results.test.ts shows its form)
	test('lesson 1.1 fails on the starter with what was expected, what happened, the log and the hint', () => {
		expect(first.status, first.output).toBe(1);
		expect(first.output).toContain(`  ✗ ${HELLO_TITLE}`);
		// the assertion library's sentence says the same as Expected and Got: it is left out
		expect(first.output).toContain(`✗ ${HELLO_TITLE}  (${HELLO_SPEC})\n  Expected: 'Hello world.\\n'\n  Got: ''`);
		expect(first.output).toContain('  Full console log: results/1.1-hello-world-from-a-user-space-c-program/guest-1.console.log');
		expect(first.output).toMatch(/^Chapter 1: User space {3}lessons 0\/\d+ {3}points 0\/\d+$/m);
		expect(first.output).toMatch(/^ {2}· 2\.1 {3}.* \(not run\)$/m);
		expect(first.output).toContain(`Next: ${HELLO_TITLE}\n  Run it alone: npm run watch -- 1.1 (again at every save), or once: npx vitest run -t '^1\\.1 '\n  Hint: userspace/hello/hello.c: `);
		expect(first.output).toMatch(/^ {4}userspace\/hello\/hello\.c:\d+ {2}TODO\(1\.1\): /m);
	});

	test('the grade: valid for Classroom, every lesson of the course in it, 1.1 failed, a red badge', () => {
		const g = grade();
		expect(g.status, g.output).toBe(1);
		expect(runnerResultProblems(g.runner)).toEqual([]);
		expect(badgeProblems(g.badge)).toEqual([]);
		const lessons = new Set(readManifest(ws).checks.map((c) => c.meta.id));
		expect(g.runner.tests.map((t) => t.name.split(' ')[0])).toEqual([...lessons]);
		expect(g.runner.max_score).toBe(readManifest(ws).checks.reduce((n, c) => n + c.meta.points, 0));
		expect(g.runner.tests[0]).toMatchObject({ name: HELLO_TITLE, status: 'fail', score: 0, filename: HELLO_SPEC });
		expect(g.runner.tests[1].message).toMatch(/^did not run/);
		expect(g.badge).toEqual({ schemaVersion: 1, label: 'lessons', message: `0/${lessons.size}`, color: 'red' });
	});

	test('the hint: the next lesson after the run, or the one asked for, in the language asked for', () => {
		const next = runIn(ws, 'tsx', ['curriculum/cli/hint.ts']);
		expect(next.status, next.output).toBe(0);
		expect(next.output).toMatch(new RegExp(`^${HELLO_TITLE}\\nHint: userspace/hello/hello.c: .*\\nFiles: userspace/hello/hello.c\\n {2}userspace/hello/hello.c:\\d+ {2}TODO\\(1\\.1\\): `));
		// the student wrote two lines above the TODOs of 2.1: the hint shows where they are now
		const kernelHello = 'kernel/hello/hello.c';
		const starter = read(kernelHello);
		writeFileSync(path.join(ws, kernelHello), `// mine\n// mine\n${starter}`);
		const lines = readManifest(ws).todos.filter((t) => t.file === kernelHello).map((t) => t.line! + 2);
		let ja: ChildRun;
		try {
			ja = runIn(ws, 'tsx', ['curriculum/cli/hint.ts', '2.1'], { LAB_LANG: 'ja' });
		} finally {
			writeFileSync(path.join(ws, kernelHello), starter);
		}
		expect(ja.output).toMatch(/^2\.1 カーネルモジュールで.*\nヒント: .*\nファイル: kernel\/hello\/hello\.c\n {2}kernel\/hello\/hello\.c:\d+ {2}TODO\(2\.1\): /);
		expect([...ja.output.matchAll(/hello\.c:(\d+) {2}TODO\(2\.1\)/g)].map((m) => Number(m[1]))).toEqual(lines);
		// a lesson whose required lesson did not pass in the last run: that comes first
		const progressFile = path.join(ws, 'results/progress.json');
		const progress = read('results/progress.json');
		writeFileSync(progressFile, JSON.stringify({ lessons: { '4.1': 'failed' } }));
		let needs: ChildRun;
		try {
			needs = runIn(ws, 'tsx', ['curriculum/cli/hint.ts', '4.2']);
		} finally {
			writeFileSync(progressFile, progress);
		}
		expect(needs.status, needs.output).toBe(0);
		expect(needs.output).toMatch(/^4\.2 needs 4\.1 first: it did not pass in your last run\.\n\n4\.2 /);
		// extra arguments are not dropped in silence
		expect(runIn(ws, 'tsx', ['curriculum/cli/hint.ts', '1.1', '2.1'])).toEqual({ status: 2, output: 'usage: npm run hint [-- <lesson>], e.g. npm run hint -- 2.3\n' });
		expect(runIn(ws, 'tsx', ['curriculum/cli/watch.ts', '1.1b', 'extra'])).toEqual({ status: 2, output: 'usage: npm run watch -- <lesson>, e.g. npm run watch -- 2.3\n' });
		const unknown = runIn(ws, 'tsx', ['curriculum/cli/hint.ts', '9.9']);
		expect(unknown.status).toBe(2);
		expect(unknown.output).toMatch(/^There is no lesson 9\.9\. The lessons are: 1\.1, 1\.1b, 1\.2, .*, 4\.8\.\n$/);
	});

	test('watch mode runs 1.1, sees the student save the fix, and runs it again: it passes', async () => {
		// its own TMPDIR: what the watcher leaves there after Ctrl-C is its leftovers
		const tmp = path.join(scratch, 'watch-tmp');
		mkdirSync(tmp);
		const watcher = spawn(path.join(repoRoot, 'node_modules/.bin/tsx'), ['curriculum/cli/watch.ts', '1.1'], { cwd: ws, env: childEnv({ TMPDIR: tmp }), detached: true });
		const exited = new Promise<string>((resolve) => watcher.once('exit', (code, signal) => resolve(`exit ${code ?? signal}`)));
		let output = '';
		const seen = (text: string, ms: number) =>
			new Promise<void>((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms:\n${output}`)), ms);
				const check = () => {
					if (!output.includes(text)) return;
					clearTimeout(timer);
					resolve();
				};
				watcher.stdout.on('data', check);
				check();
			});
		watcher.stdout.on('data', (d: Buffer) => (output += d));
		watcher.stderr.on('data', (d: Buffer) => (output += d));
		try {
			await seen('Watching userspace/hello', 120_000);
			expect(output).toContain(`${HELLO_TITLE}: 0/1`);
			writeFileSync(path.join(ws, HELLO), readFileSync(path.join(repoRoot, HELLO)));
			await seen(`${HELLO_TITLE}: 1/1`, 120_000);
			// the rerun's report starts with a rule, the time and the file saved, and ends with the watching line again
			await seen(`${HELLO_TITLE}: 1/1\n\nWatching userspace/hello`, 10_000);
			expect(output).toMatch(/\n──── \d\d:\d\d:\d\d userspace\/hello\/hello\.c changed: running again ─+\n/);
			expect(output.indexOf('changed: running again')).toBeGreaterThan(output.indexOf(`${HELLO_TITLE}: 0/1`));
		} finally {
			// Ctrl-C in a terminal: SIGINT to the whole process group
			process.kill(-watcher.pid!, 'SIGINT');
		}
		const stopped = await Promise.race([exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 30_000))]);
		if (stopped === 'running') process.kill(-watcher.pid!, 'SIGKILL');
		expect(stopped, `the watcher should stop on Ctrl-C:\n${output}`).not.toBe('running');
		expect(readdirSync(tmp).filter((f) => f.startsWith('lab-')), 'the watcher removed its guest snapshot and guest folders').toEqual([]);
	}, 300_000);

	test('after the fix, the grade counts 1.1', () => {
		const run = runLesson11();
		expect(run.status, run.output).toBe(0);
		const g = grade();
		expect(g.runner.tests[0]).toMatchObject({ name: HELLO_TITLE, status: 'pass', score: 1 });
		expect(g.badge).toMatchObject({ message: `1/${g.runner.tests.length}` });
	}, 600_000);

	test('a spec edited to pass, or a spec added, voids the grade', () => {
		writeFileSync(path.join(ws, HELLO_SPEC), `${read(HELLO_SPEC)}\n// passes now\n`);
		writeFileSync(path.join(ws, 'specs/01-userspace/mine.spec.ts'), '\n');
		const tampering = verifyWorkspace(ws);
		expect(isUntouched(tampering)).toBe(false);
		expect(tampering).toEqual({ modified: [HELLO_SPEC], missing: [], added: ['specs/01-userspace/mine.spec.ts'] });
		const g = grade();
		expect(g.status).toBe(1);
		expect(runnerResultProblems(g.runner)).toEqual([]);
		expect(g.runner.status).toBe('error');
		expect(g.runner.tests[0]).toMatchObject({ status: 'error', score: 0 });
		expect(g.runner.tests[0].message).toBe(`not graded: the course's files were changed: ${HELLO_SPEC} (changed), specs/01-userspace/mine.spec.ts (added)`);
		expect(g.badge).toMatchObject({ message: 'tests changed' });
	});

	test('a spec in a dot folder counts as added; a spec and its checksum edited together are seen against the first commit, and the report says how to restore', () => {
		const first = execFileSync('git', ['rev-list', '--max-parents=0', 'HEAD'], { cwd: ws, encoding: 'utf8' }).trim();
		mkdirSync(path.join(ws, 'specs/.hidden'));
		writeFileSync(path.join(ws, 'specs/.hidden/pass.spec.ts'), '\n');
		const manifest = readManifest(ws);
		manifest.protected[HELLO_SPEC] = 'an edited checksum';
		writeFileSync(path.join(ws, MANIFEST), JSON.stringify(manifest));
		execFileSync('git', ['commit', '-qam', 'a student commits the edit'], { cwd: ws });
		expect(trustedManifest(ws)).toMatchObject({ commit: first, manifestChanged: true });
		expect(verifyWorkspace(ws)).toEqual({ modified: [MANIFEST, HELLO_SPEC], missing: [], added: ['specs/.hidden/pass.spec.ts', 'specs/01-userspace/mine.spec.ts'] });
		const run = runLesson11();
		expect(run.output).toContain(`git checkout ${first.slice(0, 12)} -- <file> (that is the first commit)`);
		// 1.1 passes, yet the run fails: its points prove nothing; the warning leads and ends the report
		expect(run.output).toContain(`  ✓ ${HELLO_TITLE}`);
		expect(run.status, run.output).toBe(1);
		expect(run.output.indexOf('so this run is not graded'), run.output).toBeLessThan(run.output.indexOf('Chapter 1: User space'));
		expect(run.output.lastIndexOf('so this run is not graded'), 'and again after them').toBeGreaterThan(run.output.indexOf('Total: lessons'));
	}, 600_000);
});

describe('the commands in the course repository', () => {
	test('hint collects the lessons without a guest: it works with a kernel that does not exist; an unknown lesson lists the lessons', () => {
		// LAB_KERNEL naming a missing kernel makes any guest boot fail at once
		const hint = runIn(repoRoot, 'tsx', ['curriculum/cli/hint.ts', '2.1'], { LAB_KERNEL: '9.9.9-none' }, 300_000);
		expect(hint.status, hint.output).toBe(0);
		expect(hint.output).toMatch(/^2\.1 .*\nHint: /);
		const unknown = runIn(repoRoot, 'tsx', ['curriculum/cli/watch.ts', '7.7'], { LAB_KERNEL: '9.9.9-none' }, 300_000);
		expect(unknown.status, unknown.output).toBe(2);
		expect(unknown.output).toMatch(/^There is no lesson 7\.7\. The lessons are: 1\.1, .*\n$/);
	}, 600_000);
});
