// The student workflow cannot run here; what can drift from the code is checked instead: the
// reporters and scripts it names exist, the Classroom reporter reads the grade step's output under
// the runner name it is given, and the grading job has the check-run name the reporter looks for.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { repoRoot } from '../guest/paths.js';

const workflow = readFileSync(path.join(repoRoot, '.github/workflows/lessons.yml'), 'utf8');

test('every file the workflow names exists', () => {
	const named = [...workflow.matchAll(/\.\/(curriculum\/[\w/.-]+\.ts)|node (scripts\/[\w.-]+)/g)].map((m) => m[1] ?? m[2]);
	expect(named).toEqual(expect.arrayContaining(['curriculum/reporters/progress.ts', 'curriculum/reporters/grade.ts', 'scripts/bootstrap.mjs']));
	for (const file of named) expect(existsSync(path.join(repoRoot, file)), file).toBe(true);
});

test('the Classroom reporter reads the grade step\'s "result" under its runner name', () => {
	const runner = /^\s+runners: (\S+)$/m.exec(workflow)?.[1];
	expect(runner).toBe('lessons');
	expect(workflow).toContain(`${runner!.toUpperCase()}_RESULTS: \${{ steps.grade.outputs.result }}`);
	expect(workflow).toMatch(/- name: Grade\n\s+id: grade\n/);
	// the grade reporter writes that output
	expect(readFileSync(path.join(repoRoot, 'curriculum/reporters/grade.ts'), 'utf8')).toContain('`result=${');
});

test('the grading job is the check run "Autograding Tests", and shards are merged from blob reports', () => {
	expect(workflow).toMatch(/^ {2}grade:\n {4}# .*\n {4}name: Autograding Tests$/m);
	expect(workflow).toContain('--shard=${{ matrix.shard }}/${{ needs.plan.outputs.count }}');
	expect(workflow).toContain('--reporter=blob');
	expect(workflow).toContain('vitest run --merge-reports');
	expect(workflow).not.toMatch(/secrets\./);
});
