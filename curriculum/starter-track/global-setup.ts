// Global setup of the starter track: the folder of this run's starter trees and of the workers'
// links (.cache/starters/run-*), and every lesson's student regions. A malformed TODO marker stops
// the run here, with every problem's file:line.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { cachePath, progress, repoRoot } from '../../guest/paths.js';
import { lessonsWithRegions, scanExercises } from '../exercises.js';
import type { StarterTrack } from './track.js';

const DAY_MS = 24 * 3600_000;

export default function setup(project: TestProject): () => void {
	const parent = path.dirname(cachePath('starters', 'run'));
	mkdirSync(parent, { recursive: true });
	// runs that were killed before their teardown
	for (const old of readdirSync(parent)) {
		const dir = path.join(parent, old);
		if (old.startsWith('run-') && Date.now() - statSync(dir).mtimeMs > DAY_MS) rmSync(dir, { recursive: true, force: true });
	}
	const index = scanExercises(repoRoot);
	const runDir = mkdtempSync(path.join(parent, 'run-'));
	const track: StarterTrack = { solutions: repoRoot, treesDir: path.join(runDir, 'trees'), poolsDir: path.join(runDir, 'pools'), regions: {} };
	mkdirSync(track.treesDir);
	mkdirSync(track.poolsDir);
	for (const r of index.regions) (track.regions[r.lesson] ??= []).push({ file: r.file, begin: r.begin });
	progress(`starter track: ${lessonsWithRegions(index).length} lessons with student regions; trees in ${path.relative(repoRoot, runDir)}`);
	project.provide('labStarters', track);
	return () => rmSync(runDir, { recursive: true, force: true });
}
