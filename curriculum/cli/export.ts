// npm run skels -- DIR       a student workspace in DIR: the course with starters in place of
//                            the solutions; `npm test` there is the student's progress run
// npm run classroom -- DIR   the same plus the GitHub workflow (.github/), as a git repository
//                            with one commit: the template repository of a GitHub Classroom
//                            assignment
// A relative DIR is taken from the folder npm was run in (INIT_CWD), not from the course repository.
// The destination is checked (and made) before the slow part, the collection of the lessons: a
// mistake there is one line and status 1, a wrong command line status 2.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../guest/paths.js';
import { collectCatalogue } from '../catalogue.js';
import { lessonsWithRegions, scanExercises } from '../exercises.js';
import { type Language, languageOf, texts } from '../i18n.js';
import { DestinationError, MANIFEST, courseFiles, exportWorkspace, isStudentWorkspace, prepareDestination, removeMade } from '../workspace.js';
import { REFUSED, USAGE, UserError, runCommand } from './user-error.js';

/** The one line a student or instructor reads for a destination that cannot take the workspace. */
function destinationMessage(e: DestinationError, dir: string, language: Language): string {
	const t = texts(language);
	const p = e.problem;
	switch (p.kind) {
		case 'not-empty':
			return t.destNotEmpty(dir);
		case 'not-a-folder':
			// the destination itself, or a folder on its way
			return p.at === e.dest ? t.destIsFile(dir) : t.destNotFolder(dir, p.at);
		case 'cannot-create':
			return p.parentExists ? t.destVirtualParent(dir, p.at, path.dirname(p.at)) : t.destCannotCreate(dir, p.at, p.reason);
		case 'cannot-write':
			return t.destCannotWrite(dir, p.reason);
	}
}

await runCommand(async () => {
	const t = texts(languageOf());
	const [kind, dir] = process.argv.slice(2);
	if ((kind !== 'skels' && kind !== 'classroom') || !dir) throw new UserError(t.usageExport(kind === 'classroom' ? 'classroom' : 'skels'), USAGE);
	// npm runs the script in the course repository; INIT_CWD is where the user typed the command
	const dest = path.resolve(process.env.INIT_CWD || process.cwd(), dir);
	if (dest === repoRoot || dest.startsWith(`${repoRoot}${path.sep}`)) throw new UserError(t.destInsideCourse(dir), USAGE);
	if (isStudentWorkspace(repoRoot)) throw new UserError(t.alreadyWorkspace(repoRoot), REFUSED);
	const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' });
	const index = scanExercises(repoRoot);
	const commit = git('rev-parse', '--short', 'HEAD').trim();
	const dirty = git('status', '--porcelain').trim() !== '';
	let made: string[];
	try {
		made = prepareDestination(dest);
	} catch (e) {
		if (e instanceof DestinationError) throw new UserError(destinationMessage(e, dir, languageOf()), REFUSED);
		throw e;
	}

	let manifest;
	try {
		const checks = await collectCatalogue(repoRoot);
		manifest = exportWorkspace({ index, dest, files: courseFiles(repoRoot), checks, classroom: kind === 'classroom', exportedFrom: `${commit}${dirty ? '+dirty' : ''}` });
	} catch (e) {
		// the folders made for a workspace that was not written go again (only while still empty)
		removeMade(made);
		throw e;
	}

	const lessons = new Set(manifest.checks.map((c) => c.meta.id));
	process.stdout.write(
		[
			`${kind === 'classroom' ? 'Classroom template' : 'Student workspace'} written to ${dest}`,
			`  ${lessons.size} lessons (${manifest.checks.length} tests), starters for ${lessonsWithRegions(index).length} of them in ${new Set(manifest.todos.map((t) => t.file)).size} files`,
			`  ${Object.keys(manifest.protected).length} course files under checksum in ${MANIFEST}`,
			...(kind === 'classroom' ? ['  a git repository with one commit: push it and mark it as a template repository'] : []),
			`Next: cd ${dir} && npm test`,
		].join('\n') + '\n',
	);
});
