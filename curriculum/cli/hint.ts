// npm run hint            the hint of the lesson to work on next (after the last run)
// npm run hint -- 2.3     the hint of lesson 2.3
// Prints the lesson's hint in the student's language (LAB_LANG, else the locale) and where its
// TODOs are. In a student workspace the lessons come from its manifest, so no guest is needed;
// in the course repository they are collected from the specs.
import { repoRoot } from '../../guest/paths.js';
import { collectCatalogue } from '../catalogue.js';
import { languageOf, texts } from '../i18n.js';
import { compareLessonIds, isLessonId } from '../lesson-id.js';
import { colorWanted, lessonHint } from '../report-text.js';
import { nextLessonId } from '../results.js';
import { readProgress } from '../reporters/progress.js';
import { isStudentWorkspace, readManifest, studentTodos } from '../workspace.js';

const language = languageOf();
const t = texts(language);
const asked = process.argv[2];
if (asked !== undefined && !isLessonId(asked)) {
	process.stderr.write('usage: npm run hint [-- <lesson>], e.g. npm run hint -- 2.3\n');
	process.exit(2);
}

const checks = isStudentWorkspace(repoRoot) ? readManifest(repoRoot).checks : await collectCatalogue(repoRoot);
const ids = [...new Set(checks.map((c) => c.meta.id))].sort(compareLessonIds);
const progress = readProgress(repoRoot);

const id = asked ?? nextLessonId(ids, (id) => progress?.lessons[id] ?? 'not-run');
if (id === undefined) {
	process.stdout.write(`${t.allDone}\n`);
	process.exit(0);
}
const own = checks.filter((c) => c.meta.id === id);
if (!own.length) {
	process.stderr.write(`${t.noSuchLesson(id)}\n`);
	process.exit(1);
}
const text = { language, color: colorWanted() };
if (!asked && !progress) process.stdout.write(`${t.noRunYet}\n\n`);
process.stdout.write(`${id} ${own[0].meta.title[language]}\n${lessonHint(own.map((c) => c.meta), studentTodos(repoRoot), text)}\n`);
