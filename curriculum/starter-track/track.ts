// The starter track of the honesty check: every lesson runs once more, on a tree where only its
// own student regions are removed (the solutions of every other lesson stay), and must fail there
// for the lesson's own reason. Its global setup writes the trees and provides this description;
// each worker reads its sources through its own link (LAB_SOURCE_ROOT), which lesson.ts points at
// the tree of the lesson it is about to run.
import { renameSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';

export interface StarterTrack {
	/** One tree per lesson, named by lesson number. */
	lessonsDir: string;
	/** One link per worker, named by VITEST_POOL_ID. */
	poolsDir: string;
	/** Each lesson's student regions ("kernel/hello/hello.c:12"). */
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

/** Point this worker's source root at the starter of `lesson` (atomically: a rename over the link). */
export function useLessonStarter(track: StarterTrack, lesson: string): void {
	const link = workerSourceRoot(track);
	const next = `${link}.next`;
	rmSync(next, { force: true });
	// relative, so the link also resolves inside a guest that mounts the host root elsewhere
	symlinkSync(path.relative(track.poolsDir, path.join(track.lessonsDir, lesson)), next);
	renameSync(next, link);
}
