// Run the whole suite several times in a row (issue 9: "no flaky spec, no leftover QEMU process,
// no leftover temp files or sockets, the same results") and print the figures. By hand, it takes
// the time of that many `npm test` runs:
//
//   npx tsx scripts/reliability/ten-runs.ts [--runs 10] [-- more vitest arguments]
//
// Each run is `vitest run` as `npm test` runs it (both projects, every spec), with a TMPDIR of its
// own: every process of the run carries it in its environment and every temporary file of the
// harness lands in it, so after the run this script can tell what the run left behind. The
// summary goes to stdout and to results/reliability/ten-runs.json.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const extra = dash >= 0 ? argv.slice(dash + 1) : [];
const runsArg = argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : 10;
const RUN_LIMIT_MS = 60 * 60_000;

interface Survivor {
	pid: number;
	cmd: string;
}

function processesWith(tmp: string): Survivor[] {
	const found: Survivor[] = [];
	for (const p of readdirSync('/proc')) {
		if (!/^\d+$/.test(p)) continue;
		try {
			if (!readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(`TMPDIR=${tmp}`)) continue;
			const cmd = readFileSync(`/proc/${p}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
			if (cmd) found.push({ pid: Number(p), cmd: cmd.slice(0, 160) });
		} catch {
			// gone meanwhile
		}
	}
	return found;
}

/** Every file left under dir, with its kind (socket, file, folder) and size. */
function leftovers(dir: string): string[] {
	const out: string[] = [];
	const walk = (d: string) => {
		for (const e of readdirSync(d, { withFileTypes: true })) {
			const p = path.join(d, e.name);
			if (e.isDirectory()) {
				out.push(`${path.relative(dir, p)}/`);
				walk(p);
			} else out.push(`${path.relative(dir, p)} (${e.isSocket() ? 'socket' : `${statSync(p).size} bytes`})`);
		}
	};
	walk(dir);
	return out;
}

const startersRuns = () => {
	const d = path.join(root, '.cache', 'starters');
	try {
		return readdirSync(d).filter((f) => f.startsWith('run-'));
	} catch {
		return [];
	}
};

interface RunResult {
	run: number;
	exitCode: number | null;
	seconds: number;
	passed: number;
	failed: number;
	skipped: number;
	failedTests: string[];
	survivors: Survivor[];
	leftovers: string[];
	/** Files of tsx's compile cache (in TMPDIR by design). */
	cacheFiles: number;
	starterTreesLeft: string[];
	figures: string[];
}

async function oneRun(i: number, base: string): Promise<{ result: RunResult; statuses: Map<string, string> }> {
	const tmp = path.join(base, `run-${i}`);
	// like /tmp: programs that run as another user (clamd as nobody) need their folders here too
	mkdirSync(tmp, { mode: 0o1777 });
	chmodSync(tmp, 0o1777);
	const report = path.join(base, `run-${i}.json`);
	const startersBefore = new Set(startersRuns());
	const started = performance.now();
	const child = spawn(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=default', '--reporter=./curriculum/reporters/honesty.ts', '--reporter=json', `--outputFile.json=${report}`, ...extra], {
		cwd: root,
		env: { ...process.env, TMPDIR: tmp },
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	let out = '';
	child.stdout.on('data', (d: Buffer) => {
		out += d;
		process.stdout.write(d);
	});
	const timer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
	const exitCode = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
	clearTimeout(timer);
	const seconds = Math.round((performance.now() - started) / 1000);
	await new Promise((r) => setTimeout(r, 2000));
	const survivors = processesWith(tmp);
	for (const s of survivors) {
		try {
			process.kill(s.pid, 'SIGKILL');
		} catch {
			// gone meanwhile
		}
	}
	// tsx keeps its compile cache in TMPDIR (tsx-<uid>/): a cache by design, not a leftover
	const all_ = leftovers(tmp);
	const cache = all_.filter((f) => /^tsx-\d+/.test(f));
	const left = all_.filter((f) => !/^tsx-\d+/.test(f));
	const statuses = new Map<string, string>();
	try {
		const json = JSON.parse(readFileSync(report, 'utf8')) as { testResults: { name: string; assertionResults: { fullName: string; status: string }[] }[] };
		for (const f of json.testResults) {
			for (const t of f.assertionResults) {
				const key = `${path.relative(root, f.name)} > ${t.fullName}`;
				// the same test in two projects (lessons, starters) has the same name: keep both
				statuses.set(statuses.has(key) ? `${key} #2` : key, t.status);
			}
		}
	} catch (e) {
		statuses.set('(no JSON report)', `failed: ${(e as Error).message}`);
	}
	const all = [...statuses.values()];
	const result: RunResult = {
		run: i,
		exitCode,
		seconds,
		passed: all.filter((s) => s === 'passed').length,
		failed: all.filter((s) => s === 'failed').length,
		skipped: all.filter((s) => s !== 'passed' && s !== 'failed').length,
		failedTests: [...statuses].filter(([, s]) => s === 'failed').map(([k]) => k),
		survivors,
		leftovers: left,
		cacheFiles: cache.length,
		starterTreesLeft: startersRuns().filter((r) => !startersBefore.has(r)),
		figures: out.split('\n').filter((l) => l.startsWith('[reliability] ')),
	};
	rmSync(tmp, { recursive: true, force: true });
	return { result, statuses };
}

async function main(): Promise<void> {
	const base = mkdtempSync(path.join(os.tmpdir(), 'lab-ten-runs-'));
	chmodSync(base, 0o755);
	const results: RunResult[] = [];
	const history = new Map<string, string[]>();
	for (let i = 1; i <= RUNS; i++) {
		process.stderr.write(`\n[ten-runs] run ${i} of ${RUNS}\n`);
		const { result, statuses } = await oneRun(i, base);
		results.push(result);
		for (const [k, s] of statuses) history.set(k, [...(history.get(k) ?? Array(i - 1).fill('absent')), s]);
		for (const h of history.values()) if (h.length < i) h.push('absent');
		process.stderr.write(`[ten-runs] run ${i}: exit ${result.exitCode}, ${result.seconds} s, ${result.passed} passed, ${result.failed} failed, ${result.survivors.length} processes left, ${result.leftovers.length} files left (and ${result.cacheFiles} of tsx's cache)\n`);
		for (const f of result.failedTests) process.stderr.write(`[ten-runs]   failed: ${f}\n`);
		for (const s of result.survivors) process.stderr.write(`[ten-runs]   process left: ${s.pid} ${s.cmd}\n`);
		for (const f of result.leftovers.filter((l) => !l.includes('/')).concat(result.leftovers.filter((l) => l.includes('/')).slice(0, 10))) process.stderr.write(`[ten-runs]   left: ${f}\n`);
	}
	const flaky = [...history].filter(([, h]) => new Set(h.filter((s) => s === 'passed' || s === 'failed')).size > 1).map(([k, h]) => ({ test: k, outcomes: h }));
	const alwaysFailing = [...history].filter(([, h]) => h.every((s) => s === 'failed')).map(([k]) => k);
	const figures: Record<string, number> = {};
	for (const r of results) {
		for (const line of r.figures) {
			const [, name, rest] = /^\[reliability\] (\S+) (.*)$/.exec(line) ?? [];
			for (const m of rest?.matchAll(/(\w+)=(-?\d+)/g) ?? []) figures[`${name}.${m[1]}`] = (figures[`${name}.${m[1]}`] ?? 0) + Number(m[2]);
		}
	}
	const summary = {
		runs: RUNS,
		seconds: results.map((r) => r.seconds),
		exitCodes: results.map((r) => r.exitCode),
		flaky,
		alwaysFailing,
		processesLeft: results.flatMap((r) => r.survivors.map((s) => ({ run: r.run, ...s }))),
		filesLeft: results.flatMap((r) => r.leftovers.map((f) => ({ run: r.run, file: f }))),
		starterTreesLeft: results.flatMap((r) => r.starterTreesLeft),
		figuresSummedOverRuns: figures,
		perRun: results.map(({ figures: _f, ...r }) => r),
	};
	mkdirSync(path.join(root, 'results', 'reliability'), { recursive: true });
	writeFileSync(path.join(root, 'results', 'reliability', 'ten-runs.json'), `${JSON.stringify(summary, null, 2)}\n`);
	rmSync(base, { recursive: true, force: true });
	const line = (s: string) => process.stdout.write(`${s}\n`);
	line('');
	line(`== ${RUNS} runs of the whole suite ==`);
	line(`wall time per run (s): ${summary.seconds.join(', ')}`);
	line(`exit codes: ${summary.exitCodes.join(', ')}`);
	line(`tests per run: ${results.map((r) => `${r.passed}/${r.failed}/${r.skipped}`).join(', ')} (passed/failed/skipped)`);
	line(`flaky tests (passed in some runs, failed in others): ${flaky.length}`);
	for (const f of flaky) line(`  ${f.test}: ${f.outcomes.join(' ')}`);
	line(`failing in every run: ${alwaysFailing.length}`);
	for (const t of alwaysFailing) line(`  ${t}`);
	line(`processes left after a run: ${summary.processesLeft.length}`);
	for (const p of summary.processesLeft) line(`  run ${p.run}: ${p.pid} ${p.cmd}`);
	line(`files or sockets left in a run's TMPDIR: ${summary.filesLeft.length}`);
	for (const f of summary.filesLeft.slice(0, 40)) line(`  run ${f.run}: ${f.file}`);
	line(`starter trees left in .cache/starters: ${summary.starterTreesLeft.length}`);
	line(`reliability figures, summed over the runs: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`);
	line('(results/reliability/ten-runs.json has all of it)');
}

void main();
