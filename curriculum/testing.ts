// For the curriculum's own tests: a copy of the course in a temporary folder, and vitest (or a
// CLI) run in it as a separate process, sharing this checkout's build cache and node_modules.
// The copies live under the system's temporary folder, which a guest that mounts the host root
// does not see (its /tmp is its own): run there only specs that build and upload what they use.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, repoRoot } from '../guest/paths.js';
import { courseFiles } from './workspace.js';

/** Copy the course's files (as git lists them) into `dest`, with this checkout's node_modules linked in. */
export function copyCourse(dest: string): void {
	for (const file of courseFiles(repoRoot)) {
		mkdirSync(path.dirname(path.join(dest, file)), { recursive: true });
		copyFileSync(path.join(repoRoot, file), path.join(dest, file));
	}
	linkNodeModules(dest);
}

export function linkNodeModules(dest: string): void {
	symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dest, 'node_modules'));
}

/** The environment of a child run: this one without what vitest set for its own workers. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
	const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'TEST' && k !== 'NODE_ENV'));
	return { ...env, LAB_CACHE: cacheDir, LAB_LANG: 'en', NO_COLOR: '1', ...extra };
}

export interface ChildRun {
	status: number | null;
	/** stdout and stderr together, in order enough for assertions on lines. */
	output: string;
}

/** Run a command of node_modules/.bin (vitest, tsx) in `cwd` and wait for it. */
export function runIn(cwd: string, command: string, args: string[], extra: Record<string, string> = {}, timeoutMs = 600_000): ChildRun {
	const r: SpawnSyncReturns<string> = spawnSync(path.join(repoRoot, 'node_modules', '.bin', command), args, { cwd, env: childEnv(extra), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
	if (r.error) throw r.error;
	return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
