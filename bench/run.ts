// `npm run bench`: measures and prints figures; nothing here passes or fails on a threshold.
// Writes bench/results.json and bench/RESULTS.md. Ratios are taken within one run because the
// machines are shared and noisy.
//
//   LAB_BENCH_RUNS=5          runs of each figure (the median and the spread are over them)
//   LAB_BENCH_SUITE_RUNS=1    runs of the whole suite, per worker count (each takes minutes)
//   LAB_BENCH_GROUPS=guest,suite,exec,clamd   the groups to run (default all); a partial run
//                             writes bench/results.partial.json and RESULTS.partial.md instead
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { progress } from '../guest/paths.js';
import { clamdFigures } from './clamd-group.js';
import { execFigures } from './exec-group.js';
import { Recorder, benchRuns } from './figures.js';
import { guestFigures } from './guest-group.js';
import { benchImage, saveSnapshot } from './image.js';
import { writeReport } from './report.js';
import { suiteFigures, suiteRuns } from './suite-group.js';

const GROUPS = ['guest', 'suite', 'exec', 'clamd'] as const;
type Group = (typeof GROUPS)[number];

function selectedGroups(): Group[] {
	const text = process.env.LAB_BENCH_GROUPS;
	if (!text) return [...GROUPS];
	const chosen = text.split(',').map((g) => g.trim());
	for (const g of chosen) if (!(GROUPS as readonly string[]).includes(g)) throw new Error(`LAB_BENCH_GROUPS: unknown group "${g}" (groups: ${GROUPS.join(', ')})`);
	return GROUPS.filter((g) => chosen.includes(g));
}

const groups = selectedGroups();
const runs = benchRuns();
const suiteRunCount = suiteRuns();
const started = { at: new Date(), ms: performance.now(), load: os.loadavg() };
progress(`bench: groups ${groups.join(', ')}; ${runs} runs per figure; load average ${started.load.map((l) => l.toFixed(2)).join(' ')}`);

// the machine is shared: sample its load while the figures are taken
const loadDuring: number[] = [];
const loadSampler = setInterval(() => loadDuring.push(os.loadavg()[0]!), 15_000);
loadSampler.unref();

const rec = new Recorder();
const groupMinutes: Partial<Record<Group, number>> = {};
const { image, bzImage } = await benchImage();
const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-bench-'));
try {
	const snapshot = await saveSnapshot(image, dir);
	const measureGroup: Record<Group, () => Promise<void>> = {
		guest: () => guestFigures(rec, image, bzImage, snapshot, runs),
		suite: () => suiteFigures(rec, suiteRunCount),
		exec: () => execFigures(rec, image, dir, runs),
		clamd: () => clamdFigures(rec, runs),
	};
	for (const group of groups) {
		const t0 = performance.now();
		await measureGroup[group]();
		groupMinutes[group] = Number(((performance.now() - t0) / 60_000).toFixed(1));
		progress(`bench: group ${group} took ${groupMinutes[group]} minutes`);
	}
} finally {
	rmSync(dir, { recursive: true, force: true });
	clearInterval(loadSampler);
}
writeReport(rec, {
	partial: groups.length < GROUPS.length,
	groups,
	image,
	started: started.at,
	minutes: (performance.now() - started.ms) / 60_000,
	groupMinutes,
	loadBefore: started.load,
	loadAfter: os.loadavg(),
	loadDuring,
	runs,
	suiteRuns: suiteRunCount,
});
