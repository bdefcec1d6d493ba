// The honesty check on a copy of the course whose specs were edited the ways a spec goes wrong:
// one that does not look at the student's code, one that breaks outside the lesson, one for a
// lesson with nothing to write, and a requires naming no lesson. 1.1, untouched, is honest, and so
// is 9.2, which has no region of its own but checks the work of 1.1, which it requires;
// the regions of every lesson whose spec was removed have no spec. One real run, with a guest.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ChildRun, copyCourse, runIn } from './testing.js';

const copy = mkdtempSync(path.join(os.tmpdir(), 'lab-honesty-'));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

const spec = (id: string, files: string, body: string, extra = '') => `import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';

lesson({ id: '${id}', title: { en: 'Edited ${id}', ja: '編集 ${id}' }, hint: { en: 'h', ja: 'h' }, files: ['${files}']${extra} }, async ({ vm }) => {
${body}
});
`;

let run: ChildRun;

beforeAll(() => {
	copyCourse(copy);
	for (const chapter of readdirSync(path.join(copy, 'specs'))) {
		for (const f of readdirSync(path.join(copy, 'specs', chapter))) {
			if (f.endsWith('.spec.ts') && f !== '1.1-hello.spec.ts') rmSync(path.join(copy, 'specs', chapter, f));
		}
	}
	writeFileSync(path.join(copy, 'specs', '01-userspace', 'edited-2.1.spec.ts'), spec('2.1', 'kernel/hello/hello.c', "\tconst guest = await vm.guest();\n\texpect((await guest.run('echo hi')).stdout).toBe('hi\\n');"));
	writeFileSync(path.join(copy, 'specs', '01-userspace', 'edited-1.2.spec.ts'), spec('1.2', 'userspace/busyloop/busyloop.c', '\t(undefined as unknown as { run(): void }).run();'));
	const runHello = "\tconst guest = await vm.guest();\n\tconst hello = await guest.prepareProgram('hello', { static: true });\n\texpect((await guest.run(hello.path)).stdout).toBe('Hello world.\\n');";
	writeFileSync(path.join(copy, 'specs', '01-userspace', 'edited-9.2.spec.ts'), spec('9.2', 'userspace/hello/hello.c', runHello, ", requires: ['1.1']"));
	// fails on its starter by an assertion, but just the same on the solution: it proves nothing
	writeFileSync(path.join(copy, 'specs', '01-userspace', 'edited-1.3.spec.ts'), spec('1.3', 'userspace/nullderef/nullderef.c', "\texpect('the environment').toBe('working');"));
	writeFileSync(path.join(copy, 'specs', '01-userspace', 'edited-9.1.spec.ts'), spec('9.1', 'userspace/hello/hello.c', '\texpect(1).toBe(2);', ", requires: ['0.9']"));
	// the specs only: the copy's self-tests include this very file
	run = runIn(copy, 'vitest', ['run', '--maxWorkers=1', 'specs/']);
}, 600_000);

describe('the honesty check', () => {
	test('fails the run', () => {
		expect(run.status, run.output).toBe(1);
	});

	test('counts the two honest lesson tests of six: 1.1, and 9.2 that checks the work of 1.1 it requires', () => {
		expect(run.output).toContain("Honesty check: 2 of 6 lesson tests fail on their own starter for the lesson's reason, and pass on the solution.");
		expect(run.output).toMatch(/^ {2}✓ 1\.1 Hello world from a user-space C program: assertion: expected '' to be 'Hello world\.\\n'/m);
		expect(run.output).toMatch(/^ {2}✓ 9\.2 Edited 9\.2: assertion: expected '' to be 'Hello world\.\\n'/m);
	});

	test('names a spec that passes on its starter', () => {
		expect(run.output).toMatch(/^ {2}✗ 2\.1 Edited 2\.1 \(specs\/01-userspace\/edited-2\.1\.spec\.ts\): lesson 2\.1 passes on its starter: with the student regions removed \(kernel\/hello\/hello\.c:\d+/m);
	});

	test('names a spec that breaks outside the lesson (a TypeError is not an assertion)', () => {
		expect(run.output).toMatch(/^ {2}✗ 1\.2 Edited 1\.2 \(specs\/01-userspace\/edited-1\.2\.spec\.ts\): lesson 1\.2 fails on its starter for a reason outside the lesson \(TypeError\)/m);
	});

	test('does not count a starter failure when the solution failed too in the same run', () => {
		expect(run.output).toMatch(/^ {2}✗ 1\.3 Edited 1\.3: fails on its starter, but failed on the solution too in this run: that proves nothing$/m);
	});

	test('names a lesson with no student region', () => {
		expect(run.output).toMatch(/^ {2}✗ 9\.1 Edited 9\.1 \(specs\/01-userspace\/edited-9\.1\.spec\.ts\): lesson 9\.1 has no student region \(TODO\(9\.1\) BEGIN \.\.\. END\) in userspace\/hello\/hello\.c, and the lessons it requires \(0\.9\) have none either/m);
	});

	test('names student regions that no spec checks, and a requires naming no lesson', () => {
		expect(run.output).toMatch(/^ {2}✗ kernel\/waits\/waits\.c:\d+ TODO\(2\.2\): a student region that no spec checks \(no lesson 2\.2\)$/m);
		expect(run.output).not.toMatch(/TODO\(1\.1\): a student region that no spec checks/);
		expect(run.output).toContain('  ✗ 9.1 Edited 9.1: requires 0.9, which is no lesson');
	});
});
