// The lesson catalogue of the course: every lesson test with its metadata, collected by vitest
// without running anything (collection imports the specs, which calls lesson()). The collection
// runs in collect-only mode (LAB_COLLECT_ONLY=1): the root global setup then provides a stand-in
// for the booted guest instead of extracting the kernel, building the initramfs and booting, as
// lesson() only reads the accelerator (for its time limit) while it is collected.
import path from 'node:path';
import { createVitest } from 'vitest/node';
import { COLLECT_ONLY_ENV } from '../guest/global-setup.js';
import { compareLessonIds } from './lesson-id.js';
import { checksOf } from './results.js';
import { type CatalogueCheck, isStudentWorkspace, readManifest } from './workspace.js';

/**
 * The lesson specs, as a vitest file filter: collecting or watching must not import the
 * harness's self-tests (*.test.ts), whose module-level setup would run with no test to clean up.
 */
export const LESSON_SPECS = ['specs/'];

export async function collectCatalogue(root: string): Promise<CatalogueCheck[]> {
	const before = process.env[COLLECT_ONLY_ENV];
	process.env[COLLECT_ONLY_ENV] = '1';
	try {
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
	} finally {
		// a later vitest of this process (watch mode's) runs lessons: it needs the real guest
		if (before === undefined) delete process.env[COLLECT_ONLY_ENV];
		else process.env[COLLECT_ONLY_ENV] = before;
	}
}

/** The lessons of `root`: a student workspace's manifest, else a collection of the course's specs. */
export async function lessonCatalogue(root: string): Promise<CatalogueCheck[]> {
	return isStudentWorkspace(root) ? readManifest(root).checks : collectCatalogue(root);
}

/** The lesson ids of a catalogue, in course order, each once. */
export function lessonIds(checks: ReadonlyArray<Pick<CatalogueCheck, 'meta'>>): string[] {
	return [...new Set(checks.map((c) => c.meta.id))].sort(compareLessonIds);
}
