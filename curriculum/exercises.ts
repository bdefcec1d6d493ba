// The exercise files of a source tree (the folders the harness reads through LAB_SOURCE_ROOT),
// their student regions, and starter trees written from them: the full starter the student gets,
// or a tree where only some lessons' regions are removed (the honesty check's per-lesson starter).
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compareLessonIds } from './lesson-id.js';
import { MarkerError, type Region, SIDECAR_SUFFIX, findRegions, parseSidecar, starterText } from './markers.js';

/** The folders whose files a starter tree holds (guest/paths.ts: sourceRoot). */
export const EXERCISE_ROOTS = ['userspace', 'kernel', 'clamav', 'fixtures'];

export interface StudentRegion extends Region {
	/** Path relative to the tree's root, with forward slashes. */
	file: string;
	/** A whole-file exercise declared by a sidecar. */
	whole: boolean;
}

export interface ExerciseIndex {
	root: string;
	/** Every file under the exercise roots, sidecars included, relative to the root. */
	files: string[];
	/** Sorted by lesson, then file, then line. */
	regions: StudentRegion[];
}

function walk(root: string, dir: string, out: string[]): void {
	for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
		const rel = path.posix.join(dir, entry.name);
		if (entry.isDirectory()) walk(root, rel, out);
		else if (entry.isFile()) out.push(rel);
	}
}

const isText = (data: Buffer) => !data.includes(0);

/** Every student region under `root`; throws one MarkerError listing every malformed marker. */
export function scanExercises(root: string): ExerciseIndex {
	const files: string[] = [];
	for (const top of EXERCISE_ROOTS) if (existsSync(path.join(root, top))) walk(root, top, files);
	files.sort();
	const problems: string[] = [];
	const regions: StudentRegion[] = [];
	const wholeFiles = new Set<string>();
	for (const file of files.filter((f) => f.endsWith(SIDECAR_SUFFIX))) {
		const target = file.slice(0, -SIDECAR_SUFFIX.length);
		try {
			const whole = parseSidecar(readFileSync(path.join(root, file), 'utf8'), file);
			if (!files.includes(target)) throw new MarkerError([`${file}: declares a whole-file exercise for ${target}, which does not exist`]);
			const lines = readFileSync(path.join(root, target), 'utf8').split('\n').length;
			regions.push({ lesson: whole.lesson, hint: whole.hint, begin: 1, end: lines, file: target, whole: true });
			wholeFiles.add(target);
		} catch (e) {
			if (!(e instanceof MarkerError)) throw e;
			problems.push(...e.problems);
		}
	}
	for (const file of files.filter((f) => !f.endsWith(SIDECAR_SUFFIX))) {
		const data = readFileSync(path.join(root, file));
		if (!isText(data)) continue;
		try {
			const found = findRegions(data.toString('utf8'), file);
			if (found.length && wholeFiles.has(file)) problems.push(`${file}: has TODO regions and a ${SIDECAR_SUFFIX} sidecar: use one or the other`);
			regions.push(...found.map((r) => ({ ...r, file, whole: false })));
		} catch (e) {
			if (!(e instanceof MarkerError)) throw e;
			problems.push(...e.problems);
		}
	}
	if (problems.length) throw new MarkerError(problems);
	regions.sort((a, b) => compareLessonIds(a.lesson, b.lesson) || a.file.localeCompare(b.file) || a.begin - b.begin);
	return { root, files, regions };
}

/** The lessons that have student regions, in course order. */
export function lessonsWithRegions(index: ExerciseIndex): string[] {
	return [...new Set(index.regions.map((r) => r.lesson))].sort(compareLessonIds);
}

/**
 * The starter content of `file` with the regions of the lessons `remove` selects replaced, or
 * undefined when it has none of them (the file stays as it is).
 */
export function starterContent(index: ExerciseIndex, file: string, remove: (lesson: string) => boolean): string | undefined {
	const regions = index.regions.filter((r) => r.file === file && remove(r.lesson));
	if (!regions.length) return undefined;
	const from = path.join(index.root, file);
	return regions[0].whole
		? parseSidecar(readFileSync(from + SIDECAR_SUFFIX, 'utf8'), file + SIDECAR_SUFFIX).starter
		: starterText(readFileSync(from, 'utf8'), file, remove);
}

/** Write `file` of the index's tree to the same path under `dest`, as its starter where it has one. */
export function writeStarterFile(index: ExerciseIndex, file: string, dest: string, remove: (lesson: string) => boolean): void {
	const from = path.join(index.root, file);
	const to = path.join(dest, file);
	mkdirSync(path.dirname(to), { recursive: true });
	const starter = starterContent(index, file, remove);
	if (starter === undefined) copyFileSync(from, to);
	else {
		writeFileSync(to, starter);
		chmodSync(to, statSync(from).mode & 0o7777);
	}
}

/**
 * Write the exercise roots of `index` to `dest` with the regions of the lessons `remove` selects
 * replaced by their starter (sidecars are declarations, not part of any tree).
 */
export function writeStarterTree(index: ExerciseIndex, dest: string, remove: (lesson: string) => boolean): void {
	for (const file of index.files) if (!file.endsWith(SIDECAR_SUFFIX)) writeStarterFile(index, file, dest, remove);
}
