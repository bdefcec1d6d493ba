// Group 2, the suite: the wall time of `vitest run --project lessons` on the solutions (every
// spec and self-test, not the honesty check's starters), per chapter, with the default worker
// count and with one worker for the speed-up, and how many guests it booted and restored.
//
// The guests are counted by the harness itself: the suite runs with LAB_STATS_FILE, where each
// guest that comes up (cold boot or snapshot restore) appends one JSON line with its time.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { progress, repoRoot } from '../guest/paths.js';
import type { Recorder } from './figures.js';
import type { FileTiming } from './suite-reporter.js';

const GROUP = 'suite';
/** A suite that takes longer than this is stopped (SIGTERM: vitest closes its guests). */
const SUITE_LIMIT_MS = 30 * 60_000;

/** LAB_BENCH_SUITE_RUNS: runs of the whole suite per worker count (default 1: each takes minutes). */
export function suiteRuns(): number {
	const text = process.env.LAB_BENCH_SUITE_RUNS ?? '1';
	const n = Number(text);
	if (!Number.isInteger(n) || n < 1) throw new Error(`LAB_BENCH_SUITE_RUNS must be a whole number of at least 1, not "${text}"`);
	return n;
}

const SELF_TESTS = 'self-tests (guest, clamav, curriculum, scripts)';

/** The part of the suite a test file counts for: its chapter (specs/NN-name/), or the self-tests. */
function partOf(file: string): string {
	const chapter = /^specs\/(\d+)-([^/]+)\//.exec(file);
	return chapter ? `chapter ${Number(chapter[1])} (specs/${chapter[1]}-${chapter[2]})` : SELF_TESTS;
}

interface Tests {
	total: number;
	passed: number;
	failed: number;
	skipped: number;
}

export interface SuiteRun {
	wallMs: number;
	exitCode: number | null;
	boots: number;
	restores: number;
	/** Each restore's time to its first command. */
	restoreMs: number[];
	/** undefined when the reporter wrote nothing (vitest did not finish). */
	tests?: Tests;
	/** Milliseconds per part: the sum of its test files' times. */
	partMs: Map<string, number>;
	logFile: string;
}

interface LaunchStat {
	kind: 'boot' | 'restore';
	ms: number;
}

function readStats(file: string): LaunchStat[] {
	if (!existsSync(file)) return [];
	return readFileSync(file, 'utf8')
		.split('\n')
		.filter(Boolean)
		.map((line) => JSON.parse(line) as LaunchStat);
}

/** One run of the suite; `files` narrows it to some test files (to try this group out quickly). */
export async function runSuite(workers: number, scratch: string, index: number, files: string[] = []): Promise<SuiteRun> {
	const tag = `${workers}w-${index}`;
	const statsFile = path.join(scratch, `guests-${tag}.jsonl`);
	const timingFile = path.join(scratch, `timing-${tag}.json`);
	const logFile = path.join(scratch, `vitest-${tag}.log`);
	const vitest = path.join(repoRoot, 'node_modules', '.bin', 'vitest');
	const args = ['run', '--project', 'lessons', `--maxWorkers=${workers}`, '--reporter=default', '--reporter=./bench/suite-reporter.ts', ...files];
	const env: NodeJS.ProcessEnv = { ...process.env, LAB_STATS_FILE: statsFile, LAB_BENCH_SUITE_REPORT: timingFile };
	delete env.LAB_SHOW; // the demo's chatter would only fill the log
	progress(`suite: vitest ${args.slice(0, 4).join(' ')} (its output goes to ${logFile})`);
	const out = createWriteStream(logFile);
	const t0 = performance.now();
	const child = spawn(vitest, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
	child.stdout.pipe(out, { end: false });
	child.stderr.pipe(out, { end: false });
	const limit = setTimeout(() => {
		progress(`suite: still running after ${SUITE_LIMIT_MS / 60_000} minutes: stopping it`);
		child.kill('SIGTERM');
	}, SUITE_LIMIT_MS);
	const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
	const wallMs = performance.now() - t0;
	clearTimeout(limit);
	out.end();
	const guests = readStats(statsFile);
	const timings = existsSync(timingFile) ? (JSON.parse(readFileSync(timingFile, 'utf8')) as { files: FileTiming[] }).files : undefined;
	const partMs = new Map<string, number>();
	let tests: Tests | undefined;
	if (timings) {
		tests = { total: 0, passed: 0, failed: 0, skipped: 0 };
		for (const t of timings) {
			const part = partOf(t.file);
			partMs.set(part, (partMs.get(part) ?? 0) + t.ms);
			tests.passed += t.passed;
			tests.failed += t.failed;
			tests.skipped += t.skipped;
			tests.total += t.passed + t.failed + t.skipped;
		}
	}
	const restoreMs = guests.filter((g) => g.kind === 'restore').map((g) => g.ms);
	return { wallMs, exitCode, boots: guests.length - restoreMs.length, restores: restoreMs.length, restoreMs, tests, partMs, logFile };
}

export async function suiteFigures(rec: Recorder, runs: number): Promise<void> {
	const parallel = os.availableParallelism();
	const scratch = mkdtempSync(path.join(os.tmpdir(), 'lab-bench-suite-'));
	let keepLogs = false;
	try {
		const byWorkers = new Map<number, SuiteRun[]>();
		for (const workers of parallel > 1 ? [parallel, 1] : [1]) {
			const results: SuiteRun[] = [];
			for (let i = 0; i < runs; i++) {
				const r = await runSuite(workers, scratch, i);
				const t = r.tests;
				const tests = t ? `${t.total} tests: ${t.passed} passed, ${t.failed} failed${t.skipped ? `, ${t.skipped} skipped` : ''}` : 'no timing report';
				progress(`suite: ${workers} worker(s): ${(r.wallMs / 1000).toFixed(1)} s, exit ${r.exitCode}, ${tests}; ${r.boots} boots, ${r.restores} restores`);
				if (r.exitCode !== 0) {
					keepLogs = true;
					progress(`suite: not every test passed; its output is kept in ${r.logFile}`);
				}
				results.push(r);
			}
			byWorkers.set(workers, results);
			const w = `${workers} worker${workers > 1 ? 's' : ''}`;
			const last = results[results.length - 1]!.tests;
			const summary = last ? `${last.total} tests, ${last.failed} failed` : 'vitest did not finish';
			rec.record(GROUP, `whole suite, ${w}`, 's', results.map((r) => r.wallMs / 1000), `vitest run --project lessons --maxWorkers=${workers}; ${summary}; includes the global setup's boot`);
			const parts = [...new Set(results.flatMap((r) => [...r.partMs.keys()]))].sort((a, b) => (a === SELF_TESTS ? 1 : b === SELF_TESTS ? -1 : a.localeCompare(b, 'en', { numeric: true })));
			for (const part of parts) {
				rec.record(
					GROUP,
					`${part}, ${w}`,
					's',
					results.map((r) => (r.partMs.get(part) ?? 0) / 1000),
					`the sum of its test files' times (setup, import, tests, hooks)${workers === 1 ? ': one after another' : ': they overlap'}`,
				);
			}
			rec.record(GROUP, `cold boots, ${w}`, 'count', results.map((r) => r.boots), 'guests booted (the global setup, lessons with boot options), from LAB_STATS_FILE');
			rec.record(GROUP, `snapshot restores, ${w}`, 'count', results.map((r) => r.restores), 'guests restored from the saved state, from LAB_STATS_FILE');
			rec.record(GROUP, `restore to first command inside the suite, ${w}`, 'ms', results.flatMap((r) => r.restoreMs), 'every restore of every run, while other tests use the CPUs');
		}
		if (parallel > 1) {
			const w = `${parallel} workers`;
			rec.ratio(GROUP, `speed-up of ${w} (1 worker / ${w})`, rec.find(GROUP, 'whole suite, 1 worker')!, rec.find(GROUP, `whole suite, ${w}`)!);
		}
	} finally {
		if (!keepLogs) rmSync(scratch, { recursive: true, force: true });
	}
}
