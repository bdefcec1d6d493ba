// npm run watch -- 2.3    runs lesson 2.3, then again whenever a file in the folders of its
// student files changes (the harness rebuilds what changed). The guest is booted once; every
// rerun restores it. Ctrl-C stops. An id that is not a lesson's is refused (status 2, with the
// list of lessons) before vitest starts: in a workspace from its manifest, in the course
// repository from a collection that boots no guest.
import path from 'node:path';
import { createVitest } from 'vitest/node';
import { repoRoot, sourceRoot } from '../../guest/paths.js';
import { LESSON_SPECS, lessonCatalogue, lessonIds } from '../catalogue.js';
import { languageOf, texts } from '../i18n.js';
import { isLessonId } from '../lesson-id.js';
import { lessonTestPattern } from '../report-text.js';
import ProgressReporter from '../reporters/progress.js';
import { checksOf } from '../results.js';
import { REFUSED, USAGE, UserError, runCommand } from './user-error.js';

await runCommand(async () => {
	const t = texts(languageOf());
	const args = process.argv.slice(2);
	const id = args[0];
	// one lesson exactly: a second argument would be dropped without a word
	if (args.length !== 1 || id === undefined || !isLessonId(id)) throw new UserError(t.usageWatch, USAGE);
	const ids = lessonIds(await lessonCatalogue(repoRoot));
	if (!ids.includes(id)) throw new UserError(t.noSuchLesson(id, ids.join(', ')), USAGE);

	/** Filled after the first run: the lesson's spec files and the folders of its student files. */
	let specs: string[] = [];
	let folders: string[] = [];
	const inFolders = (file: string) => folders.some((dir) => file.startsWith(`${dir}${path.sep}`));

	const reporter = new ProgressReporter({ only: id });
	const vitest = await createVitest('test', {
		root: repoRoot,
		project: ['lessons'],
		watch: true,
		testNamePattern: lessonTestPattern(id),
		reporters: [reporter],
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
		// in the catalogue, yet not collected now: its spec did not load (the error is printed above)
		await vitest.close();
		throw new UserError(t.lessonNotLoaded(id), REFUSED);
	}
	specs = [...new Set(checks.map((c) => path.join(repoRoot, c.spec)))];
	folders = [...new Set(checks.flatMap((c) => c.meta.files.map((f) => path.dirname(path.join(sourceRoot, f)))))];
	// every rerun's report starts with a rule and the time (the reporter's onWatcherRerun) and ends with this line again
	reporter.watching = t.watching(folders.map((f) => path.relative(repoRoot, f) || '.').join(', '));
	process.stdout.write(`\n${reporter.watching}\n`);
});
