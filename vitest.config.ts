import os from 'node:os';
import { defineConfig } from 'vitest/config';
import { labProjects, labReporters } from './curriculum/vitest.js';

export default defineConfig({
	test: {
		// the root's global setup runs once per run, before any project's: every test of every
		// project restores the guest it saves
		globalSetup: ['guest/global-setup.ts'],
		// one guest per worker, one worker per core
		maxWorkers: os.availableParallelism(),
		// "lessons", and in the course repository "starters" (the honesty check): curriculum/vitest.ts
		projects: labProjects({
			include: ['specs/**/*.spec.ts', 'guest/**/*.test.ts', 'scripts/**/*.test.ts', 'clamav/**/*.test.ts', 'curriculum/**/*.test.ts'],
			setupFiles: ['guest/worker-lifetime.ts', 'guest/matchers.ts'],
			pool: 'forks',
			testTimeout: 150_000,
			// a failure shows the lines or values it is about, not "[ …(2) ]"
			chaiConfig: { truncateThreshold: 2000 },
			hookTimeout: 180_000,
		}),
		reporters: labReporters(),
	},
});
