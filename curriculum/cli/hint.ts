// npm run hint            the hint of the lesson to work on next (after the last run)
// npm run hint -- 2.3     the hint of lesson 2.3
// Prints the lesson's hint in the student's language (LAB_LANG, else the locale) and where its
// TODOs are, after a line naming the lessons it requires that did not pass in the last run. In a
// student workspace the lessons come from its manifest; in the course repository they are
// collected from the specs, in collect-only mode (no guest boots). An id that is not a lesson's is
// a usage error (status 2) that lists the lessons; more than one argument is a usage error too.
import { repoRoot } from '../../guest/paths.js';
import { lessonCatalogue, lessonIds } from '../catalogue.js';
import { languageOf, texts } from '../i18n.js';
import { isLessonId } from '../lesson-id.js';
import { colorWanted, lessonHint, requiresNotice } from '../report-text.js';
import { nextLessonId } from '../results.js';
import { readProgress } from '../reporters/progress.js';
import { studentTodos } from '../workspace.js';
import { USAGE, UserError, runCommand } from './user-error.js';

await runCommand(async () => {
	const language = languageOf();
	const t = texts(language);
	const args = process.argv.slice(2);
	const asked = args[0];
	// one lesson at most: a second argument would be dropped without a word
	if (args.length > 1 || (asked !== undefined && !isLessonId(asked))) throw new UserError(t.usageHint, USAGE);

	const checks = await lessonCatalogue(repoRoot);
	const ids = lessonIds(checks);
	if (asked !== undefined && !ids.includes(asked)) throw new UserError(t.noSuchLesson(asked, ids.join(', ')), USAGE);
	const progress = readProgress(repoRoot);

	const id = asked ?? nextLessonId(ids, (id) => progress?.lessons[id] ?? 'not-run');
	if (id === undefined) {
		process.stdout.write(`${t.allDone}\n`);
		return;
	}
	const own = checks.filter((c) => c.meta.id === id);
	const text = { language, color: colorWanted() };
	if (!asked && !progress) process.stdout.write(`${t.noRunYet}\n\n`);
	const needs = requiresNotice(own.map((c) => c.meta), progress, text);
	if (needs) process.stdout.write(`${needs}\n\n`);
	process.stdout.write(`${id} ${own[0].meta.title[language]}\n${lessonHint(own.map((c) => c.meta), studentTodos(repoRoot), text)}\n`);
});
