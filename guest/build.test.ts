import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { BuildError, buildProgram, inSourceTerms } from './build.js';
import { repoRoot } from './paths.js';

test("the compiler's words name the course's source path, not the scratch copy the build ran in", () => {
	const dir = path.join(repoRoot, 'kernel', 'hello');
	const scratch = '/x/.cache/build/modules/.hello-AbC123';
	const log = [`${scratch}/hello.c:14:9: error: expected ';'`, "hello.c: In function 'main':", "hello.c:6:33: warning: unused variable 'x'", '   14 |  pr_info("hi")', 'make[2]: *** [x] Error 1'].join('\n');
	expect(inSourceTerms(log, scratch, dir).split('\n')).toEqual([
		"kernel/hello/hello.c:14:9: error: expected ';'",
		"kernel/hello/hello.c: In function 'main':",
		"kernel/hello/hello.c:6:33: warning: unused variable 'x'",
		'   14 |  pr_info("hi")',
		'make[2]: *** [x] Error 1',
	]);
});

test('a program that does not build fails with a BuildError whose log points at its source file', async () => {
	// a folder outside the course: its path is shown whole
	const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-build-test-'));
	try {
		mkdirSync(path.join(dir, 'broken'));
		writeFileSync(path.join(dir, 'broken', 'broken.c'), 'int main(void) { return x; }\n');
		const error = await buildProgram(path.join(dir, 'broken')).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(BuildError);
		expect((error as BuildError).log).toContain(`${path.join(dir, 'broken')}/broken.c:1:`);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

test("a rebuild removes this program's builds unused for a week, and no other program's", async () => {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-build-test-'));
	try {
		const src = path.join(dir, 'prune');
		mkdirSync(src);
		writeFileSync(path.join(src, 'prune.c'), `int main(void) { return ${process.pid % 100}; }\n`);
		const first = path.dirname((await buildProgram(src)).file);
		const parent = path.dirname(first);
		const longAgo = new Date(Date.now() - 8 * 24 * 3600_000);
		const neighbour = path.join(parent, 'prune-exec-0123456789abcdef');
		mkdirSync(neighbour, { recursive: true });
		for (const d of [first, neighbour]) utimesSync(d, longAgo, longAgo);
		writeFileSync(path.join(src, 'prune.c'), `int main(void) { return ${(process.pid % 100) + 1}; }\n`);
		const second = path.dirname((await buildProgram(src)).file);
		expect([existsSync(first), existsSync(second), existsSync(neighbour)]).toEqual([false, true, true]);
		rmSync(second, { recursive: true, force: true });
		rmSync(neighbour, { recursive: true, force: true });
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
