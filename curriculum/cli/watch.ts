// npm run watch -- 2.3    runs lesson 2.3, then again whenever a file in the folders of its
// student files changes (the harness rebuilds what changed). The guest is booted once; every
// rerun restores it. Ctrl-C stops.
import path from 'node:path';
import { createVitest } from 'vitest/node';
import { repoRoot, sourceRoot } from '../../guest/paths.js';
import { LESSON_SPECS } from '../catalogue.js';
import { languageOf, texts } from '../i18n.js';
import { isLessonId } from '../lesson-id.js';
import ProgressReporter from '../reporters/progress.js';
import { checksOf } from '../results.js';

const id = process.argv[2];
if (id === undefined || !isLessonId(id)) {
	process.stderr.write('usage: npm run watch -- <lesson>, e.g. npm run watch -- 2.3\n');
	process.exit(2);
}
const t = texts(languageOf());

/** Filled after the first run: the lesson's spec files and the folders of its student files. */
let specs: string[] = [];
let folders: string[] = [];
const inFolders = (file: string) => folders.some((dir) => file.startsWith(`${dir}${path.sep}`));

const vitest = await createVitest('test', {
	root: repoRoot,
	project: ['lessons'],
	watch: true,
	testNamePattern: `^${id.replace('.', '\\.')} `,
	reporters: [new ProgressReporter({ only: id })],
	// a changed student source reruns the lesson's specs (vitest itself only follows imports)
	watchTriggerPatterns: [{ pattern: /./, testsToRun: (file) => (inFolders(file) ? specs : undefined) }],
});
// Ctrl-C or a kill: close vitest, which runs the global teardown (the guest snapshot's folder goes)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
	process.once(signal, () => {
		void vitest.close().finally(() => process.exit(0));
	});
}
await vitest.start(LESSON_SPECS);
const checks = checksOf(vitest.state.getTestModules(), repoRoot, 'lessons').filter((c) => c.meta.id === id);
if (!checks.length) {
	process.stderr.write(`${t.noSuchLesson(id)}\n`);
	await vitest.close();
	process.exit(1);
}
specs = [...new Set(checks.map((c) => path.join(repoRoot, c.spec)))];
folders = [...new Set(checks.flatMap((c) => c.meta.files.map((f) => path.dirname(path.join(sourceRoot, f)))))];
process.stdout.write(`\n${t.watching(folders.map((f) => path.relative(repoRoot, f) || '.').join(', '))}\n`);

