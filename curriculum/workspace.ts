// The student workspace: the course with its exercise files replaced by their starters, and a
// manifest (curriculum/student-workspace.json) whose presence tells every tool that this is a
// student's copy. The manifest holds the lesson catalogue (for grading and hints without a run),
// where each TODO landed in the starters, and the sha256 of every course file the student must
// not change, which the progress run and the grade verify.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type ExerciseIndex, scanExercises, writeStarterFile } from './exercises.js';
import { LESSON_ID_SOURCE } from './lesson-id.js';
import type { LessonMeta } from './lesson-meta.js';
import type { CheckResult } from './results.js';
import { SIDECAR_SUFFIX } from './markers.js';

export const MANIFEST = 'curriculum/student-workspace.json';

export interface CatalogueCheck {
	/** The test's name: "<id> <English title>". */
	name: string;
	spec: string;
	meta: LessonMeta;
}

export interface StarterTodo {
	lesson: string;
	file: string;
	/**
	 * 1-based line of the TODO comment in the starter (1 for a whole file). From studentTodos in a
	 * workspace: where it is in the student's file now, absent when the comment is gone.
	 */
	line?: number;
	hint: string;
	whole: boolean;
}

export interface Manifest {
	kind: 'kernel-security-lab student workspace';
	/** The course commit the workspace was made from ("+dirty" when the tree had changes). */
	exportedFrom: string;
	checks: CatalogueCheck[];
	todos: StarterTodo[];
	/** sha256 of each file the student must leave as it is, by path. */
	protected: Record<string, string>;
}

/** Folders where a file the manifest does not know is a change too (a spec added to pass). */
const PROTECTED_DIRS = ['specs', 'guest', 'curriculum', 'scripts'];
/** The workspace's README.md: written for the student, instead of the course's (which is about the solutions). */
export const WORKSPACE_README = 'curriculum/workspace-README.md';
/** Exported but the student's to edit. */
const UNPROTECTED = new Set(['README.md', '.gitignore', MANIFEST]);

export function isStudentWorkspace(root: string): boolean {
	return existsSync(path.join(root, MANIFEST));
}

export function readManifest(root: string): Manifest {
	return JSON.parse(readFileSync(path.join(root, MANIFEST), 'utf8')) as Manifest;
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

export interface Tampering {
	modified: string[];
	missing: string[];
	added: string[];
}

export const isUntouched = (t: Tampering) => !t.modified.length && !t.missing.length && !t.added.length;

/**
 * Folders of the course's own tooling inside a protected folder, whose files are not the student's
 * additions: git's, npm's, the harness's cache and evidence, vitest's blob reports.
 */
const NOT_COURSE_DIRS = new Set(['.git', 'node_modules', '.cache', 'results', '.vitest-reports']);
/** Editors' swap, backup, lock and autosave files: not changes to the course (unless vitest would run them). */
const EDITOR_FILE = /~$|^\..*\.sw[a-p]$|^\.#|^#.*#$|^\.DS_Store$/;
const TEST_FILE = /\.(spec|test)\.[cm]?[jt]sx?$/;
const editorsOwn = (name: string) => EDITOR_FILE.test(name) && !TEST_FILE.test(name);

/**
 * Every file and symbolic link under `dir`, dot folders included: vitest runs a spec in a dot
 * folder (specs/.h/a.spec.ts) as well as any other, so it counts as added like any other.
 */
function filesUnder(root: string, dir: string, out: string[] = []): string[] {
	if (!existsSync(path.join(root, dir))) return out;
	for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
		const rel = path.posix.join(dir, e.name);
		if (e.isDirectory()) {
			if (!NOT_COURSE_DIRS.has(e.name)) filesUnder(root, rel, out);
		} else if (!editorsOwn(e.name)) out.push(rel);
	}
	return out;
}

/** The git history a workspace has, when the workspace is a git repository of its own (the classroom template, a student's clone). */
function gitIn(root: string): ((...args: string[]) => string) | undefined {
	const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
	try {
		return realpathSync(git('rev-parse', '--show-toplevel').trim()) === realpathSync(root) ? git : undefined;
	} catch {
		return undefined; // no git, or not a repository
	}
}

export const isGitWorkspace = (root: string) => gitIn(root) !== undefined;

/** The manifest a workspace is checked against, and whether its own copy differs from it. */
export interface TrustedManifest {
	manifest: Manifest;
	/** The root commit the manifest was read from; undefined when it is the workspace's own copy. */
	commit?: string;
	/** The workspace's manifest is not the root commit's (or the root commits disagree). */
	manifestChanged: boolean;
}

/**
 * In a git workspace, the manifest as the first commit had it (the export's: "Exercises of
 * kernel-security-lab <sha>", or the commit GitHub made from the template), so editing a spec and
 * its checksum together is seen: the edited manifest differs from the first commit's. Without git
 * (a `npm run skels` folder), in a shallow clone (whose oldest commit is not the first), or with no
 * manifest in the first commit, there is only the workspace's own copy to trust: a student who
 * rewrites it defeats the check; only git's history gives the stronger one. History can be
 * rewritten too: compare with the template's manifest when a grade really matters.
 */
export function trustedManifest(root: string): TrustedManifest {
	const own = () => readManifest(root);
	const git = gitIn(root);
	if (!git) return { manifest: own(), manifestChanged: false };
	let roots: string[];
	try {
		if (git('rev-parse', '--is-shallow-repository').trim() === 'true') return { manifest: own(), manifestChanged: false };
		// newest first: the last is the oldest root
		roots = git('rev-list', '--max-parents=0', 'HEAD').split('\n').filter(Boolean);
	} catch {
		return { manifest: own(), manifestChanged: false }; // no commit yet
	}
	const given = roots.flatMap((commit) => {
		try {
			return [{ commit, manifest: JSON.parse(git('show', `${commit}:${MANIFEST}`)) as Manifest }];
		} catch {
			return [];
		}
	});
	const first = given.at(-1);
	if (!first) return { manifest: own(), manifestChanged: false };
	let current: unknown;
	try {
		current = JSON.parse(readFileSync(path.join(root, MANIFEST), 'utf8'));
	} catch {
		current = undefined;
	}
	const changed = !isDeepStrictEqual(current, first.manifest) || given.some((g) => !isDeepStrictEqual(g.manifest, first.manifest));
	return { manifest: first.manifest, commit: first.commit, manifestChanged: changed };
}

/**
 * How the protected files of a workspace differ from its manifest: by default the trusted one
 * (trustedManifest), where a changed manifest is itself a modified file.
 */
export function verifyWorkspace(root: string, manifest?: Manifest): Tampering {
	const trusted: TrustedManifest = manifest ? { manifest, manifestChanged: false } : trustedManifest(root);
	const result: Tampering = { modified: trusted.manifestChanged ? [MANIFEST] : [], missing: [], added: [] };
	for (const [file, hash] of Object.entries(trusted.manifest.protected)) {
		const p = path.join(root, file);
		if (!existsSync(p)) result.missing.push(file);
		else if (sha256(p) !== hash) result.modified.push(file);
	}
	for (const dir of PROTECTED_DIRS) {
		for (const file of filesUnder(root, dir)) if (!(file in trusted.manifest.protected) && file !== MANIFEST) result.added.push(file);
	}
	return result;
}

/** Where a student gets a changed course file back: the first commit of a git workspace (when known), else a fresh export. */
export function restoreSource(root: string): { git: boolean; commit?: string } {
	if (!isGitWorkspace(root)) return { git: false };
	return { git: true, commit: trustedManifest(root).commit };
}

export function describeTampering(t: Tampering): string {
	return [
		...t.modified.map((f) => `${f} (changed)`),
		...t.missing.map((f) => `${f} (deleted)`),
		...t.added.map((f) => `${f} (added)`),
	].join(', ');
}

/** Where each lesson's TODOs are in a starter tree: its TODO comments, and whole-file exercises. */
export function starterTodos(root: string, index: ExerciseIndex): StarterTodo[] {
	const todos: StarterTodo[] = [];
	const todoLine = new RegExp(String.raw`TODO\((${LESSON_ID_SOURCE})\): (.*?)(?: \*/)?\s*$`);
	for (const file of [...new Set(index.regions.map((r) => r.file))]) {
		const whole = index.regions.find((r) => r.file === file && r.whole);
		if (whole) {
			todos.push({ lesson: whole.lesson, file, line: 1, hint: whole.hint, whole: true });
			continue;
		}
		readFileSync(path.join(root, file), 'utf8')
			.split('\n')
			.forEach((l, i) => {
				const m = todoLine.exec(l);
				if (m) todos.push({ lesson: m[1], file, line: i + 1, hint: m[2], whole: false });
			});
	}
	return todos;
}

/** Where the student's TODOs are: in a workspace where their comments are now, from the markers in the course. */
export function studentTodos(root: string): StarterTodo[] {
	if (isStudentWorkspace(root)) return currentTodos(root, readManifest(root).todos);
	return scanExercises(root).regions.map((r) => ({ lesson: r.lesson, file: r.file, line: r.begin, hint: r.hint, whole: r.whole }));
}

/** `line` has `comment` with nothing after it but the comment's end: a hint is not taken for a longer one it begins ("SZ_8K" and "SZ_8K + SZ_4K"). */
function isComment(line: string, comment: string): boolean {
	const at = line.indexOf(comment);
	return at >= 0 && /^\s*(\*\/)?\s*$/.test(line.slice(at + comment.length));
}

/**
 * The manifest's TODOs at the lines their comments have in the student's files now (the starter's
 * lines go stale with the first edit): each file is read once, and each TODO takes the first line
 * not yet taken that has its comment, "TODO(<id>): <hint>", else one with "TODO(<id>)" only (the
 * hint edited). A TODO whose comment is gone (or whose file is) has no line: the file alone.
 */
export function currentTodos(root: string, todos: StarterTodo[]): StarterTodo[] {
	const lines = new Map<string, string[]>();
	const linesOf = (file: string) => {
		if (!lines.has(file)) {
			try {
				lines.set(file, readFileSync(path.join(root, file), 'utf8').split('\n'));
			} catch {
				lines.set(file, []);
			}
		}
		return lines.get(file)!;
	};
	const taken = new Set<string>();
	const find = (todo: StarterTodo, has: (line: string) => boolean) => {
		const i = linesOf(todo.file).findIndex((l, i) => !taken.has(`${todo.file}:${i}`) && has(l));
		if (i >= 0) taken.add(`${todo.file}:${i}`);
		return i;
	};
	// exact matches first, so an edited hint does not take the line of an intact one
	const exact = todos.map((todo) => (todo.whole ? -1 : find(todo, (l) => isComment(l, `TODO(${todo.lesson}): ${todo.hint}`))));
	return todos.map((todo, k) => {
		if (todo.whole) return todo;
		const i = exact[k] >= 0 ? exact[k] : find(todo, (l) => l.includes(`TODO(${todo.lesson})`));
		const { line: _starter, ...rest } = todo;
		return i >= 0 ? { ...rest, line: i + 1 } : rest;
	});
}

/**
 * The checks that count: the run's, or in a workspace the catalogue's, each with its result from
 * the run or "not run" (its spec failed to load, or was filtered out). A spec the student added
 * is not part of the course and counts nothing.
 */
export function courseChecks(root: string, ran: CheckResult[]): CheckResult[] {
	if (!isStudentWorkspace(root)) return ran;
	const byName = new Map(ran.map((c) => [c.name, c]));
	return readManifest(root).checks.map((c) => byName.get(c.name) ?? { name: c.name, spec: c.spec, project: 'lessons', meta: c.meta, state: 'not-run', durationMs: 0 });
}

/** The course's files as git sees the working tree: tracked and new, nothing ignored (.cache, results, builds). */
export function courseFiles(root: string): string[] {
	const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
	return [...new Set(listed.split('\0'))].filter((f) => f && existsSync(path.join(root, f))).sort();
}

/** Why a folder cannot take a workspace; `at` is the path at fault (the destination or one of its parents). */
export type DestinationProblem =
	| { kind: 'not-empty'; at: string }
	| { kind: 'not-a-folder'; at: string }
	/** mkdir (or stat) failed for `reason` ("EACCES: permission denied"); `parentExists`: the folder above exists and still said ENOENT (/proc, /sys). */
	| { kind: 'cannot-create'; at: string; reason: string; parentExists: boolean }
	/** The folder exists but refused a folder inside it. */
	| { kind: 'cannot-write'; at: string; reason: string };

export class DestinationError extends Error {
	constructor(
		readonly dest: string,
		readonly problem: DestinationProblem,
	) {
		const p = problem;
		super(
			p.kind === 'not-empty'
				? `${dest} is not empty`
				: p.kind === 'not-a-folder'
					? `${dest}: ${p.at} is not a folder`
					: p.kind === 'cannot-create'
						? `${dest}: cannot create ${p.at} (${p.reason}${p.parentExists ? `, although ${path.dirname(p.at)} exists` : ''})`
						: `${dest}: cannot write in ${p.at} (${p.reason})`,
		);
		this.name = 'DestinationError';
	}
}

const errno = (e: unknown) => String((e as NodeJS.ErrnoException).code ?? e);
/** The system's reason, as Node words it: "EACCES: permission denied" (without the call and path after it). */
const reasonOf = (e: unknown) => (e instanceof Error && (e as NodeJS.ErrnoException).code ? e.message.split(', ')[0] : String(e));

/**
 * Makes `dest` ready for a workspace, or throws a DestinationError at once: it must be an empty
 * folder, or a path whose missing folders can be made. Returns the folders it made (outermost
 * first), for a caller that gives up later to remove.
 *
 * Folders are made one at a time: Node's own mkdirSync(..., { recursive: true }) never returns
 * when a parent exists but refuses children with ENOENT (/proc, /sys): it makes the parent (EEXIST)
 * and tries the child again, forever. A test folder made and removed inside `dest` proves it takes
 * folders, so the recursive mkdir of the export below it is safe.
 */
export function prepareDestination(dest: string): string[] {
	const fail = (problem: DestinationProblem): never => {
		throw new DestinationError(dest, problem);
	};
	const missing: string[] = [];
	for (let p = dest; ; ) {
		let isDir: boolean | undefined;
		try {
			isDir = statSync(p).isDirectory();
		} catch (e) {
			const code = errno(e);
			// ENOTDIR: a parent is a file, found when the walk reaches it
			if (code !== 'ENOENT' && code !== 'ENOTDIR') fail({ kind: 'cannot-create', at: p, reason: reasonOf(e), parentExists: false });
		}
		if (isDir === false) fail({ kind: 'not-a-folder', at: p });
		if (isDir) {
			if (p === dest && readdirSync(p).length) fail({ kind: 'not-empty', at: p });
			break;
		}
		missing.unshift(p);
		const parent = path.dirname(p);
		if (parent === p) break;
		p = parent;
	}
	const made: string[] = [];
	try {
		for (const dir of missing) {
			try {
				mkdirSync(dir);
			} catch (e) {
				const parentExists = errno(e) === 'ENOENT' && lstatExists(path.dirname(dir));
				fail({ kind: 'cannot-create', at: dir, reason: reasonOf(e), parentExists });
			}
			made.push(dir);
		}
		const probe = path.join(dest, `.lab-probe-${process.pid}`);
		try {
			mkdirSync(probe);
		} catch (e) {
			fail({ kind: 'cannot-write', at: dest, reason: reasonOf(e) });
		}
		rmdirSync(probe);
	} catch (e) {
		removeMade(made);
		throw e;
	}
	return made;
}

function lstatExists(p: string): boolean {
	try {
		lstatSync(p);
		return true;
	} catch {
		return false;
	}
}

/** Removes the folders prepareDestination made, innermost first, as long as they are still empty. */
export function removeMade(made: string[]): void {
	for (const dir of [...made].reverse()) {
		try {
			rmdirSync(dir);
		} catch {
			return;
		}
	}
}

export interface ExportOptions {
	/** The course's exercises: index.root is the course checkout (with the solutions). */
	index: ExerciseIndex;
	dest: string;
	/** Every file of the course to consider (courseFiles). */
	files: string[];
	checks: CatalogueCheck[];
	/** Include the GitHub workflow (.github/) and make dest a git repository with one commit. */
	classroom: boolean;
	exportedFrom: string;
}

/**
 * Folders a workspace never gets: the upstream CI and the reliability track with the programs
 * only it uses. They test the reference solutions, not a student's work.
 */
export const UPSTREAM_ONLY = [
	'.ci/',
	'specs/09-reliability/',
	'fixtures/reliability/',
	'scripts/reliability/',
	'kernel/misbehave/',
	'userspace/execgate-fuzz/',
	'userspace/execgate-fakeclamd/',
];

/** Files a workspace never gets: UPSTREAM_ONLY, the harness's self-tests, solution sidecars, the workspace README's source. */
function exported(file: string, classroom: boolean): boolean {
	if (UPSTREAM_ONLY.some((dir) => file.startsWith(dir)) || file.endsWith('.test.ts') || file.endsWith(SIDECAR_SUFFIX) || file === WORKSPACE_README) return false;
	if (file.startsWith('.github/')) return classroom;
	return true;
}

export function exportWorkspace(o: ExportOptions): Manifest {
	if (isStudentWorkspace(o.index.root)) throw new Error(`${o.index.root} is a student workspace already: export from the course repository, which has the solutions`);
	prepareDestination(o.dest);
	const exerciseFiles = new Set(o.index.regions.map((r) => r.file));
	const protectedFiles: Record<string, string> = {};
	for (const file of o.files.filter((f) => exported(f, o.classroom)).sort()) {
		if (file === 'README.md') writeFileSync(path.join(o.dest, file), readFileSync(path.join(o.index.root, WORKSPACE_README)));
		else writeStarterFile(o.index, file, o.dest, () => true);
		if (!exerciseFiles.has(file) && !UNPROTECTED.has(file)) protectedFiles[file] = sha256(path.join(o.dest, file));
	}
	const manifest: Manifest = {
		kind: 'kernel-security-lab student workspace',
		exportedFrom: o.exportedFrom,
		checks: o.checks,
		todos: starterTodos(o.dest, o.index),
		protected: protectedFiles,
	};
	mkdirSync(path.dirname(path.join(o.dest, MANIFEST)), { recursive: true });
	writeFileSync(path.join(o.dest, MANIFEST), `${JSON.stringify(manifest, null, '\t')}\n`);
	if (o.classroom) {
		const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=kernel-security-lab', '-c', 'user.email=kernel-security-lab@invalid', ...args], { cwd: o.dest, stdio: 'pipe' });
		git('init', '-q', '-b', 'main');
		git('add', '-A');
		git('commit', '-q', '-m', `Exercises of kernel-security-lab ${o.exportedFrom}`);
	}
	return manifest;
}
