// Where the harness keeps what it builds: one git-ignored cache folder, and one results folder
// for the evidence of failed tests.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/**
 * Where the exercise sources (userspace/, kernel/, clamav/, fixtures/) are read from: the
 * repository itself (the solutions), or another tree such as generated starters.
 */
export const sourceRoot = path.resolve(process.env.LAB_SOURCE_ROOT ?? repoRoot);
export const cacheDir = process.env.LAB_CACHE ?? path.join(repoRoot, '.cache');
export const resultsDir = path.join(repoRoot, 'results');

export function cachePath(...parts: string[]): string {
	const p = path.join(cacheDir, ...parts);
	mkdirSync(path.dirname(p), { recursive: true });
	return p;
}

/** One line of progress for long work, on stderr so it never mixes with test output. */
export function progress(message: string): void {
	process.stderr.write(`[lab] ${message}\n`);
}
