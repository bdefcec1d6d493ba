import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	test: {
		include: ['specs/**/*.spec.ts', 'guest/**/*.test.ts', 'scripts/**/*.test.ts', 'clamav/**/*.test.ts'],
		globalSetup: ['guest/global-setup.ts'],
		setupFiles: ['guest/matchers.ts'],
		// one guest per worker, one worker per core
		pool: 'forks',
		maxWorkers: os.availableParallelism(),
		testTimeout: 150_000,
		hookTimeout: 180_000,
		reporters: process.env.GITHUB_ACTIONS ? ['default', 'github-actions'] : ['default'],
	},
});
