// The starter track of the honesty check: every lesson runs once more, on a tree where only its
// own student regions are removed (the solutions of every other lesson stay), and must fail there
// for the lesson's own reason. A lesson with no region of its own (one that checks the work of the
// lessons it requires, end to end) runs on a tree without the regions of the lessons it requires.
// The global setup provides this description; each worker reads its sources through its own link
// (LAB_SOURCE_ROOT), which lesson.ts points at the tree of the lesson it is about to run, written
// on first use.
import { existsSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { scanExercises, writeStarterTree } from '../exercises.js';

export interface StarterTrack {
	/** The solutions the trees are made from. */
	solutions: string;
	/** One tree per set of removed lessons, named by their numbers ("2.3", "4.4+4.5"). */
	treesDir: string;
	/** One link per worker, named by VITEST_POOL_ID. */
	poolsDir: string;
	/** Each lesson's student regions. */
	regions: Record<string, { file: string; begin: number }[]>;
}

declare module 'vitest' {
	interface ProvidedContext {
		/** Provided only to the starter track's tests. */
		labStarters?: StarterTrack;
	}
}

/** The source root of this worker on the starter track. */
export function workerSourceRoot(track: StarterTrack): string {
	return path.join(track.poolsDir, process.env.VITEST_POOL_ID ?? '1');
}

/** The tree without the regions of `lessons`, written now if no worker has written it yet. */
function starterTree(track: StarterTrack, lessons: string[]): string {
	const tree = path.join(track.treesDir, [...lessons].sort().join('+'));
	if (existsSync(tree)) return tree;
	const scratch = mkdtempSync(`${tree}.`);
	writeStarterTree(scanExercises(track.solutions), scratch, (l) => lessons.includes(l));
	try {
		renameSync(scratch, tree); // atomic: another worker never sees half a tree
	} catch (e) {
		rmSync(scratch, { recursive: true, force: true });
		if (!existsSync(tree)) throw e; // else another worker wrote the same tree first
	}
	return tree;
}

/** Point this worker's source root at the tree without the regions of `lessons` (a rename over the link). */
export function useStarter(track: StarterTrack, lessons: string[]): void {
	const tree = starterTree(track, lessons);
	const link = workerSourceRoot(track);
	const next = `${link}.next`;
	rmSync(next, { force: true });
	// relative, so the link also resolves inside a guest that mounts the host root elsewhere
	symlinkSync(path.relative(track.poolsDir, tree), next);
	renameSync(next, link);
}
