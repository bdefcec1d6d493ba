import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { repoRoot } from '../guest/paths.js';
import { lessonsWithRegions, scanExercises, writeStarterTree } from './exercises.js';
import { compareLessonIds } from './lesson-id.js';
import { MarkerError, findRegions, parseSidecar, starterText } from './markers.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'lab-markers-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function problemsOf(fn: () => unknown): string[] {
	try {
		fn();
	} catch (e) {
		if (e instanceof MarkerError) return e.problems;
		throw e;
	}
	throw new Error('expected a MarkerError');
}

describe('one file', () => {
	const c = [
		'int f(void)',
		'{',
		'\tint x = 0;',
		'\t/* TODO(2.3) BEGIN: add one to x */',
		'\tx++;',
		'\t/* TODO(2.3) END */',
		'\t// TODO(2.4) BEGIN: return x',
		'\treturn x;',
		'\t// TODO(2.4) END',
		'}',
		'',
	].join('\n');

	test('finds each region with its lesson, hint and marker lines', () => {
		expect(findRegions(c, 'f.c')).toEqual([
			{ lesson: '2.3', hint: 'add one to x', begin: 4, end: 6 },
			{ lesson: '2.4', hint: 'return x', begin: 8 - 1, end: 9 },
		]);
	});

	test('the starter replaces a region by its hint in the same comment style and indentation', () => {
		expect(starterText(c, 'f.c', () => true)).toBe(
			['int f(void)', '{', '\tint x = 0;', '\t/* TODO(2.3): add one to x */', '\t// TODO(2.4): return x', '}', ''].join('\n'),
		);
	});

	test('only the selected lessons are removed; the others keep code and markers', () => {
		const only23 = starterText(c, 'f.c', (l) => l === '2.3');
		expect(only23).toContain('/* TODO(2.3): add one to x */');
		expect(only23).not.toContain('x++;');
		expect(only23).toContain('// TODO(2.4) BEGIN: return x\n\treturn x;\n\t// TODO(2.4) END');
	});

	test('# comments (Kbuild, shell, config) and CRLF line ends', () => {
		const kbuild = 'obj-m := a.o\r\n# TODO(2.9) BEGIN: build b.o too\r\nobj-m += b.o\r\n# TODO(2.9) END\r\n';
		expect(starterText(kbuild, 'Kbuild', () => true)).toBe('obj-m := a.o\r\n# TODO(2.9): build b.o too\r\n');
	});

	test('letters in lesson numbers (1.2b)', () => {
		expect(findRegions('// TODO(1.2b) BEGIN: lock\nx();\n// TODO(1.2b) END\n', 'd.ts').map((r) => r.lesson)).toEqual(['1.2b']);
	});

	test('every malformed marker is reported with file and line', () => {
		const bad = [
			'/* TODO(2.3) BEGIN: no end */', // 1: never closed
			'/* TODO(2.4) BEGIN: nested */', // 2: nested
			'/* TODO(2.5) END */', // 3: END without BEGIN (after the nested one was refused, 2.3 is open: mismatched)
			'// TODO(2.6) BEGIN: wrong close */', // 4
			'/* TODO(2.7) BEGIN: */', // 5: no hint, nested
			'/* TODO 2.8 BEGIN: no parentheses */', // 6: does not look like a marker: plain comment
			'/* TODO(2.8) begin: lower case */', // 7: a marker in the wrong case
			'/* TODO(x.y) BEGIN: bad number */', // 8
		].join('\n');
		const problems = problemsOf(() => findRegions(bad, 'k.c'));
		expect(problems).toEqual([
			'k.c:2: TODO(2.4) BEGIN inside the region TODO(2.3) opened at line 1: regions do not nest',
			'k.c:3: TODO(2.5) END closes the region TODO(2.3) opened at line 1',
			'k.c:4: a marker opened with "//" must not end with "*/"',
			'k.c:4: TODO(2.6) BEGIN inside the region TODO(2.3) opened at line 1: regions do not nest',
			'k.c:5: TODO(2.7) BEGIN needs a hint after the colon: it is what the student sees',
			'k.c:5: TODO(2.7) BEGIN inside the region TODO(2.3) opened at line 1: regions do not nest',
			'k.c:7: not a TODO marker: "/* TODO(2.8) begin: lower case */" (write "/* TODO(2.3) BEGIN: hint */" ... "/* TODO(2.3) END */", or with // or #)',
			'k.c:8: not a TODO marker: "/* TODO(x.y) BEGIN: bad number */" (write "/* TODO(2.3) BEGIN: hint */" ... "/* TODO(2.3) END */", or with // or #)',
			'k.c:1: TODO(2.3) BEGIN is never closed by TODO(2.3) END',
		]);
	});

	test('a sidecar declares the lesson, the hint and the starter content', () => {
		expect(parseSidecar('TODO(3.2): one .ndb line\nPlaceholder:0:*:00\n', 'm.ndb.todo')).toEqual({
			lesson: '3.2',
			hint: 'one .ndb line',
			starter: 'Placeholder:0:*:00\n',
		});
		expect(parseSidecar('TODO(3.2): empty starter', 'm.ndb.todo').starter).toBe('');
		expect(problemsOf(() => parseSidecar('3.2: hint\n', 'm.ndb.todo'))[0]).toMatch(/^m\.ndb\.todo:1: the first line must be "TODO\(<lesson>\): hint"/);
	});
});

describe('a tree', () => {
	const root = path.join(scratch, 'tree');
	const put = (file: string, text: string) => {
		mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
		writeFileSync(path.join(root, file), text);
	};
	put('kernel/m/m.c', 'a\n/* TODO(2.2) BEGIN: b */\nb\n/* TODO(2.2) END */\n/* TODO(2.1) BEGIN: c */\nc\n/* TODO(2.1) END */\n');
	put('kernel/m/Kbuild', 'obj-m := m.o\n');
	put('fixtures/sigs/x.ndb', 'Lab.Marker:6:*:6c6162\n');
	put('fixtures/sigs/x.ndb.todo', 'TODO(3.2): write the signature\n');
	put('fixtures/bin/blob', '\0\x01TODO(9.9) BEGIN: not a marker in a binary');
	put('userspace/run.sh', '#!/bin/sh\n# TODO(1.9) BEGIN: say hi\necho hi\n# TODO(1.9) END\n');
	put('specs/ignored.c', '/* TODO(7.7) BEGIN: outside the exercise folders */\n');
	execFileSync('chmod', ['755', path.join(root, 'userspace/run.sh')]);

	test('regions in course order, whole files from sidecars, binaries and other folders ignored', () => {
		const index = scanExercises(root);
		expect(index.regions.map((r) => `${r.lesson} ${r.file}:${r.begin}-${r.end}${r.whole ? ' whole' : ''} ${r.hint}`)).toEqual([
			'1.9 userspace/run.sh:2-4 say hi',
			'2.1 kernel/m/m.c:5-7 c',
			'2.2 kernel/m/m.c:2-4 b',
			'3.2 fixtures/sigs/x.ndb:1-2 whole write the signature',
		]);
		expect(lessonsWithRegions(index)).toEqual(['1.9', '2.1', '2.2', '3.2']);
	});

	test('the full starter removes every region, keeps other files and modes, and drops sidecars', () => {
		const dest = path.join(scratch, 'full');
		writeStarterTree(scanExercises(root), dest, () => true);
		const read = (f: string) => readFileSync(path.join(dest, f), 'utf8');
		expect(read('kernel/m/m.c')).toBe('a\n/* TODO(2.2): b */\n/* TODO(2.1): c */\n');
		expect(read('kernel/m/Kbuild')).toBe('obj-m := m.o\n');
		expect(read('fixtures/sigs/x.ndb')).toBe('');
		expect(() => statSync(path.join(dest, 'fixtures/sigs/x.ndb.todo'))).toThrow(/ENOENT/);
		expect(read('userspace/run.sh')).toBe('#!/bin/sh\n# TODO(1.9): say hi\n');
		expect(statSync(path.join(dest, 'userspace/run.sh')).mode & 0o777).toBe(0o755);
		expect(() => statSync(path.join(dest, 'specs'))).toThrow(/ENOENT/);
		expect(scanExercises(dest).regions, 'a starter has no regions left').toEqual([]);
	});

	test("a lesson's starter removes only that lesson's regions", () => {
		const dest = path.join(scratch, 'only-2.1');
		writeStarterTree(scanExercises(root), dest, (l) => l === '2.1');
		expect(readFileSync(path.join(dest, 'kernel/m/m.c'), 'utf8')).toBe('a\n/* TODO(2.2) BEGIN: b */\nb\n/* TODO(2.2) END */\n/* TODO(2.1): c */\n');
		expect(readFileSync(path.join(dest, 'fixtures/sigs/x.ndb'), 'utf8')).toBe('Lab.Marker:6:*:6c6162\n');
	});

	test('problems in several files are reported together', () => {
		const bad = path.join(scratch, 'bad');
		mkdirSync(path.join(bad, 'kernel'), { recursive: true });
		mkdirSync(path.join(bad, 'fixtures'), { recursive: true });
		writeFileSync(path.join(bad, 'kernel/a.c'), '/* TODO(2.1) BEGIN: x */\n');
		writeFileSync(path.join(bad, 'fixtures/gone.ndb.todo'), 'TODO(3.1): for a missing file\n');
		writeFileSync(path.join(bad, 'fixtures/both.conf'), '# TODO(3.3) BEGIN: x\ny\n# TODO(3.3) END\n');
		writeFileSync(path.join(bad, 'fixtures/both.conf.todo'), 'TODO(3.3): whole\n');
		expect(problemsOf(() => scanExercises(bad))).toEqual([
			'fixtures/gone.ndb.todo: declares a whole-file exercise for fixtures/gone.ndb, which does not exist',
			'fixtures/both.conf: has TODO regions and a .todo sidecar: use one or the other',
			'kernel/a.c:1: TODO(2.1) BEGIN is never closed by TODO(2.1) END',
		]);
	});
});

describe("the course's own solutions", () => {
	const index = scanExercises(repoRoot);
	const full = path.join(scratch, 'course-full');
	writeStarterTree(index, full, () => true);
	const markedFiles = [...new Set(index.regions.filter((r) => !r.whole).map((r) => r.file))];

	test('are marked (the course has student regions in user space and in the kernel)', () => {
		expect(markedFiles.some((f) => f.startsWith('userspace/'))).toBe(true);
		expect(markedFiles.some((f) => f.startsWith('kernel/'))).toBe(true);
		expect(lessonsWithRegions(index)).toEqual([...lessonsWithRegions(index)].sort(compareLessonIds));
	});

	test.each(markedFiles)('%s: the starter keeps every line outside the regions and a hint for each region', (file) => {
		const solution = readFileSync(path.join(repoRoot, file), 'utf8').split('\n');
		const starter = readFileSync(path.join(full, file), 'utf8').split('\n');
		const regions = index.regions.filter((r) => r.file === file).sort((a, b) => a.begin - b.begin);
		const outside = solution.filter((_, i) => !regions.some((r) => i + 1 >= r.begin && i + 1 <= r.end));
		expect(starter.filter((l) => !/TODO\(\S+\): /.test(l))).toEqual(outside);
		const hints = starter.filter((l) => /TODO\(\S+\): /.test(l)).map((l) => l.trim().replace(/^(\/\*|\/\/|#) /, '').replace(/ \*\/$/, ''));
		expect(hints).toEqual(regions.map((r) => `TODO(${r.lesson}): ${r.hint}`));
	});

	// "removing the region must leave code that builds": the user programs are checked here
	// with the flags the harness uses; kernel starters are built by the honesty check
	// (a warning would fail the lesson's own "no warnings" check before the lesson itself)
	test.each(markedFiles.filter((f) => f.startsWith('userspace/') && f.endsWith('.c')))('%s: the starter compiles with gcc -Wall -Wextra, without a warning', (file) => {
		const gcc = spawnSync('gcc', ['-fsyntax-only', '-Wall', '-Wextra', path.join(full, file)], { encoding: 'utf8' });
		expect({ status: gcc.status, diagnostics: gcc.stderr }).toEqual({ status: 0, diagnostics: '' });
	});
});
