// npm run skels -- DIR       a student workspace in DIR: the course with starters in place of
//                            the solutions; `npm test` there is the student's progress run
// npm run classroom -- DIR   the same plus the GitHub workflow (.github/), as a git repository
//                            with one commit: the template repository of a GitHub Classroom
//                            assignment
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../guest/paths.js';
import { collectCatalogue } from '../catalogue.js';
import { lessonsWithRegions, scanExercises } from '../exercises.js';
import { MANIFEST, courseFiles, exportWorkspace } from '../workspace.js';

const [kind, dir] = process.argv.slice(2);
if ((kind !== 'skels' && kind !== 'classroom') || !dir) {
	process.stderr.write(`usage: npm run ${kind === 'classroom' ? 'classroom' : 'skels'} -- DIR\n`);
	process.exit(2);
}
const dest = path.resolve(dir);
if (dest === repoRoot || dest.startsWith(`${repoRoot}${path.sep}`)) {
	process.stderr.write(`${dir}: write the workspace outside the course repository\n`);
	process.exit(2);
}

const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' });
const index = scanExercises(repoRoot);
const commit = git('rev-parse', '--short', 'HEAD').trim();
const dirty = git('status', '--porcelain').trim() !== '';

const manifest = exportWorkspace({
	index,
	dest,
	files: courseFiles(repoRoot),
	checks: await collectCatalogue(repoRoot),
	classroom: kind === 'classroom',
	exportedFrom: `${commit}${dirty ? '+dirty' : ''}`,
});

const lessons = new Set(manifest.checks.map((c) => c.meta.id));
process.stdout.write(
	[
		`${kind === 'classroom' ? 'Classroom template' : 'Student workspace'} written to ${dest}`,
		`  ${lessons.size} lessons (${manifest.checks.length} tests), starters for ${lessonsWithRegions(index).length} of them in ${new Set(manifest.todos.map((t) => t.file)).size} files`,
		`  ${Object.keys(manifest.protected).length} course files under checksum in ${MANIFEST}`,
		kind === 'classroom' ? '  a git repository with one commit: push it and mark it as a template repository' : '',
		`Next: cd ${dir} && npm test`,
		'',
	]
		.filter(Boolean)
		.join('\n'),
);
