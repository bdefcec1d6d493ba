// A vitest reporter for bench/suite-group.ts: for each test file, the time its worker spent on
// it (environment, harness setup, setup files, import, tests and hooks) and its tests' outcomes,
// written as JSON to the file LAB_BENCH_SUITE_REPORT names.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';

export interface FileTiming {
	/** Relative to the repository. */
	file: string;
	ms: number;
	passed: number;
	failed: number;
	skipped: number;
}

export default class SuiteTimingReporter implements Reporter {
	private root = '';

	onInit(vitest: Vitest): void {
		this.root = vitest.config.root;
	}

	onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
		const out = process.env.LAB_BENCH_SUITE_REPORT;
		if (!out) return;
		const files: FileTiming[] = modules.map((m) => {
			const d = m.diagnostic();
			const timing: FileTiming = {
				file: path.relative(this.root, m.moduleId),
				ms: d.environmentSetupDuration + d.prepareDuration + d.setupDuration + d.collectDuration + d.duration,
				passed: 0,
				failed: 0,
				skipped: 0,
			};
			for (const test of m.children.allTests()) {
				const state = test.result().state;
				if (state === 'passed') timing.passed++;
				else if (state === 'failed') timing.failed++;
				else timing.skipped++;
			}
			return timing;
		});
		writeFileSync(out, `${JSON.stringify({ files }, null, 1)}\n`);
	}
}
