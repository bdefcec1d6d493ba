// The lesson catalogue of the course: every lesson test with its metadata, collected by vitest
// without running anything (collection imports the specs, which calls lesson(); the run's global
// setup still boots the guest once, as lesson() reads the accelerator for its time limit).
import path from 'node:path';
import { createVitest } from 'vitest/node';
import { checksOf } from './results.js';
import type { CatalogueCheck } from './workspace.js';

/**
 * The lesson specs, as a vitest file filter: collecting or watching must not import the
 * harness's self-tests (*.test.ts), whose module-level setup would run with no test to clean up.
 */
export const LESSON_SPECS = ['specs/'];

export async function collectCatalogue(root: string): Promise<CatalogueCheck[]> {
	const vitest = await createVitest('test', { root, project: ['lessons'], watch: false, reporters: [] });
	try {
		const { testModules, unhandledErrors } = await vitest.collect(LESSON_SPECS);
		const broken = testModules.flatMap((m) => m.errors().map((e) => `${path.relative(root, m.moduleId)}: ${e.message}`));
		if (broken.length || unhandledErrors.length) {
			throw new Error(`the specs did not load:\n${[...broken, ...unhandledErrors.map((e) => String((e as Error).message ?? e))].join('\n')}`);
		}
		return checksOf(testModules, root).map(({ name, spec, meta }) => ({ name, spec, meta }));
	} finally {
		await vitest.close();
	}
}
