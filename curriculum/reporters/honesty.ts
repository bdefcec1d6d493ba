// The honesty check's summary (npm test in the course repository). The lessons project proves
// every spec passes on the solutions; the starters project proves each fails on its own starter
// for the lesson's reason (guest/lesson.ts inverts those tests, so a spec that passes there is a
// failed test named after it). This reporter adds what no single test can see: student regions
// whose lesson has no spec, and requires that name no lesson. Both fail the run.
import path from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';
import { scanExercises } from '../exercises.js';
import { compareLessonIds } from '../lesson-id.js';
import { type CheckResult, checksOf, unknownRequires } from '../results.js';

export const STARTERS_PROJECT = 'starters';

export interface HonestyFindings {
	/** Starter-track tests that failed: the spec passes on its starter, or breaks outside the lesson. */
	dishonest: CheckResult[];
	/** Student regions of lessons that no spec declares ("kernel/x/x.c:12 TODO(2.9)"). */
	orphanRegions: string[];
	unknownRequires: { check: string; requires: string }[];
	/** Lessons whose starter does not even build: allowed, but the student meets a compiler error first. */
	unbuildable: string[];
	/**
	 * Starter-track tests that failed "for the lesson's reason" while the same test failed on the
	 * solutions in this run: the failure may come from the environment, so it proves nothing.
	 */
	unproven: CheckResult[];
	/** The starter track's lesson tests. */
	starters: CheckResult[];
}

export function honestyFindings(root: string, lessons: CheckResult[], starters: CheckResult[], complete: boolean): HonestyFindings {
	const ids = new Set([...lessons, ...starters].map((c) => c.meta.id));
	const orphanRegions = complete
		? scanExercises(root)
				.regions.filter((r) => !ids.has(r.lesson))
				.map((r) => `${r.file}:${r.begin} TODO(${r.lesson})`)
		: [];
	// only where the solution ran too: a run of the starters alone has nothing to compare
	const unsolved = new Set(lessons.filter((c) => c.state === 'failed').map((c) => `${c.spec}\0${c.name}`));
	return {
		dishonest: starters.filter((c) => c.state === 'failed'),
		unproven: starters.filter((c) => c.state !== 'failed' && unsolved.has(`${c.spec}\0${c.name}`)),
		orphanRegions,
		unknownRequires: complete ? unknownRequires(lessons) : [],
		unbuildable: [...new Set(starters.filter((c) => c.starter?.kind === 'build').map((c) => c.meta.id))].sort(compareLessonIds),
		starters,
	};
}

export function honestyText(f: HonestyFindings, complete: boolean): string {
	const proven = f.starters.length - f.dishonest.length - f.unproven.length;
	const out = ['', `Honesty check: ${proven} of ${f.starters.length} lesson tests fail on their own starter for the lesson's reason, and pass on the solution.`];
	for (const c of f.starters) {
		if (f.unproven.includes(c)) out.push(`  ✗ ${c.name}: fails on its starter, but failed on the solution too in this run: that proves nothing`);
		else if (c.starter) out.push(`  ✓ ${c.name}: ${c.starter.kind}: ${c.starter.message}`);
		else if (c.state === 'failed') out.push(`  ✗ ${c.name} (${c.spec}): ${(c.failure?.message ?? c.error ?? '').split('\n')[0]}`);
	}
	for (const r of f.orphanRegions) out.push(`  ✗ ${r}: a student region that no spec checks (no lesson ${r.replace(/.*TODO\((.*)\)$/, '$1')})`);
	for (const u of f.unknownRequires) out.push(`  ✗ ${u.check}: requires ${u.requires}, which is no lesson`);
	if (f.unbuildable.length) out.push(`  note: the starters of ${f.unbuildable.join(', ')} do not build: a student meets a compiler error before the lesson's own failure`);
	if (!complete) out.push('  (a partial run: regions without a spec and unknown requires are checked only when every spec runs)');
	return out.join('\n');
}

export default class HonestyReporter implements Reporter {
	private vitest!: Vitest;

	onInit(vitest: Vitest): void {
		this.vitest = vitest;
	}

	async onTestRunEnd(modules: ReadonlyArray<TestModule>): Promise<void> {
		const project = this.vitest.projects.find((p) => p.name === STARTERS_PROJECT);
		if (!project) return;
		const root = this.vitest.config.root;
		const own = modules.filter((m) => m.project.name === STARTERS_PROJECT);
		// every spec ran, none filtered, none broken: a spec that did not load would make its regions look orphaned
		const ranFiles = new Set(own.filter((m) => !m.errors().length).map((m) => m.moduleId));
		const { testFiles } = await project.globTestFiles();
		const complete = !this.vitest.config.testNamePattern && !this.vitest.config.shard && testFiles.every((f) => ranFiles.has(path.resolve(f)));
		const findings = honestyFindings(root, checksOf(modules, root, 'lessons'), checksOf(modules, root, STARTERS_PROJECT), complete);
		process.stdout.write(`${honestyText(findings, complete)}\n`);
		if (findings.orphanRegions.length || findings.unknownRequires.length || findings.unproven.length) process.exitCode = 1;
	}
}
