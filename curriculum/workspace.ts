// The student workspace: the course with its exercise files replaced by their starters, and a
// manifest (curriculum/student-workspace.json) whose presence tells every tool that this is a
// student's copy. The manifest holds the lesson catalogue (for grading and hints without a run),
// where each TODO landed in the starters, and the sha256 of every course file the student must
// not change, which the progress run and the grade verify.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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
	/** 1-based line of the TODO comment in the starter (1 for a whole file). */
	line: number;
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

function filesUnder(root: string, dir: string, out: string[] = []): string[] {
	if (!existsSync(path.join(root, dir))) return out;
	for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
		// editors' swap and backup files are not changes to the course
		if (e.name.startsWith('.') || e.name.endsWith('~') || e.name === 'node_modules') continue;
		const rel = path.posix.join(dir, e.name);
		if (e.isDirectory()) filesUnder(root, rel, out);
		else if (e.isFile()) out.push(rel);
	}
	return out;
}

/** How the protected files of a workspace differ from its manifest. */
export function verifyWorkspace(root: string, manifest = readManifest(root)): Tampering {
	const result: Tampering = { modified: [], missing: [], added: [] };
	for (const [file, hash] of Object.entries(manifest.protected)) {
		const p = path.join(root, file);
		if (!existsSync(p)) result.missing.push(file);
		else if (sha256(p) !== hash) result.modified.push(file);
	}
	for (const dir of PROTECTED_DIRS) {
		for (const file of filesUnder(root, dir)) if (!(file in manifest.protected) && file !== MANIFEST) result.added.push(file);
	}
	return result;
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

/** Where the student's TODOs are: from the manifest in a workspace, from the markers in the course. */
export function studentTodos(root: string): StarterTodo[] {
	if (isStudentWorkspace(root)) return readManifest(root).todos;
	return scanExercises(root).regions.map((r) => ({ lesson: r.lesson, file: r.file, line: r.begin, hint: r.hint, whole: r.whole }));
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

/** Files a workspace never gets: UPSTREAM_ONLY, the harness's self-tests, solution sidecars. */
function exported(file: string, classroom: boolean): boolean {
	if (UPSTREAM_ONLY.some((dir) => file.startsWith(dir)) || file.endsWith('.test.ts') || file.endsWith(SIDECAR_SUFFIX)) return false;
	if (file.startsWith('.github/')) return classroom;
	return true;
}

export function exportWorkspace(o: ExportOptions): Manifest {
	if (isStudentWorkspace(o.index.root)) throw new Error(`${o.index.root} is a student workspace already: export from the course repository, which has the solutions`);
	if (existsSync(o.dest) && readdirSync(o.dest).length) throw new Error(`${o.dest} is not empty`);
	const exerciseFiles = new Set(o.index.regions.map((r) => r.file));
	const protectedFiles: Record<string, string> = {};
	for (const file of o.files.filter((f) => exported(f, o.classroom)).sort()) {
		writeStarterFile(o.index, file, o.dest, () => true);
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
