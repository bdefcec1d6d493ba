// bench/results.json and bench/RESULTS.md: the machine, the kernel, the accelerator, the load,
// every figure with its median and spread, the ratios of the same run, and the project's goals
// stated against what was measured (a statement, never a pass or a fail of the run).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GuestImage } from '../guest/guest.js';
import { repoRoot } from '../guest/paths.js';
import { type Figure, type Ratio, type Recorder, formatValue } from './figures.js';

export interface RunInfo {
	partial: boolean;
	groups: string[];
	image: GuestImage;
	started: Date;
	minutes: number;
	groupMinutes: Record<string, number>;
	/** os.loadavg() before and after, and the 1-minute load sampled during the run. */
	loadBefore: number[];
	loadAfter: number[];
	loadDuring: number[];
	runs: number;
	suiteRuns: number;
}

interface Goal {
	goal: string;
	/** The figure or ratio it is judged on, and the bound it must stay under. */
	measured?: number;
	unit: string;
	bound: number;
	source: string;
}

function goalsOf(rec: Recorder): Goal[] {
	const figure = (group: string, name: string) => rec.find(group, name)?.median;
	const ratio = (name: string) => rec.ratios.find((r) => r.name === name)?.value;
	const suiteWorkers = rec.figures.find((f) => f.group === 'suite' && /^whole suite, \d+ workers$/.test(f.name));
	const goals: Goal[] = [
		{ goal: 'cold boot to the first command at most 2.5 s (TCG)', measured: figure('guest', 'cold boot to first command (PVH vmlinux)'), unit: 'ms', bound: 2500, source: 'guest: cold boot to first command (PVH vmlinux)' },
		{ goal: 'snapshot restore to the first command at most 0.4 s (TCG)', measured: figure('guest', 'snapshot restore to first command'), unit: 'ms', bound: 400, source: 'guest: snapshot restore to first command' },
		{ goal: 'the whole suite under 3 minutes', measured: suiteWorkers?.median, unit: 's', bound: 180, source: `suite: ${suiteWorkers?.name ?? 'whole suite'}` },
		{ goal: 'a cached-verdict exec within 1.5x of a bare exec', measured: ratio('cached verdict / bare'), unit: 'x', bound: 1.5, source: 'exec: cached verdict / bare' },
		{ goal: 'the same, with the module\'s lines kept off the serial console', measured: ratio('cached verdict, quiet console / bare'), unit: 'x', bound: 1.5, source: 'exec: cached verdict, quiet console / bare' },
		{ goal: 'the same, with the module\'s own verdict cache (cache=1, not asking the relay)', measured: ratio('module verdict cache / bare'), unit: 'x', bound: 1.5, source: 'exec: module verdict cache / bare' },
		{ goal: 'the module\'s verdict cache with a quiet console', measured: ratio('module verdict cache, quiet console / bare'), unit: 'x', bound: 1.5, source: 'exec: module verdict cache, quiet console / bare' },
	];
	for (const size of ['small, 10 KB', '1 MiB', '10 MiB']) {
		goals.push({
			goal: `a first-seen decision through module + relay no slower than the fanotify route (${size})`,
			measured: ratio(`relay first seen / fanotify first seen (${size})`),
			unit: 'x',
			bound: 1,
			source: `exec: relay first seen / fanotify first seen (${size})`,
		});
		goals.push({
			goal: `the same with pass_fd=1, the relay streaming the opened file (${size})`,
			measured: ratio(`relay first seen, pass_fd=1 / fanotify first seen (${size})`),
			unit: 'x',
			bound: 1,
			source: `exec: relay first seen, pass_fd=1 / fanotify first seen (${size})`,
		});
	}
	return goals;
}

function verdict(g: Goal): string {
	if (g.measured === undefined) return 'not measured in this run';
	const by = (Math.abs(g.measured - g.bound) / g.bound) * 100;
	return g.measured <= g.bound ? `met (${by.toFixed(0)} % under)` : `missed by ${by.toFixed(0)} %`;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

function figureTable(figures: Figure[]): string[] {
	return [
		'| figure | median | min | max | runs | note |',
		'|---|---|---|---|---|---|',
		...figures.map((f) => `| ${cell(f.name)} | ${formatValue(f.median)} ${f.unit} | ${formatValue(f.min)} | ${formatValue(f.max)} | ${f.runs} | ${cell(f.note ?? '')} |`),
	];
}

function ratioTable(ratios: Ratio[]): string[] {
	return ['| ratio (medians of this run) | value |', '|---|---|', ...ratios.map((r) => `| ${cell(r.name)} | ${r.value.toFixed(2)} |`)];
}

const GROUP_TITLES: Record<string, string> = {
	guest: '1. Guest',
	suite: '2. Suite',
	exec: '3. Exec path in the guest (per exec)',
	throughput: '4. Throughput through module + relay',
	clamd: '5. clamd client (host)',
};

export function writeReport(rec: Recorder, info: RunInfo): void {
	const cpu = os.cpus()[0]?.model ?? 'unknown';
	const qemu = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
	const loads = [...info.loadDuring].sort((a, b) => a - b);
	const load = {
		before: info.loadBefore.map((l) => Number(l.toFixed(2))),
		after: info.loadAfter.map((l) => Number(l.toFixed(2))),
		during1min: loads.length ? { min: loads[0]!, median: loads[Math.floor(loads.length / 2)]!, max: loads[loads.length - 1]!, samples: loads.length } : undefined,
	};
	const goals = goalsOf(rec).map((g) => ({ ...g, verdict: verdict(g) }));
	const results = {
		date: info.started.toISOString(),
		minutes: Number(info.minutes.toFixed(1)),
		groupMinutes: info.groupMinutes,
		groups: info.groups,
		runs: info.runs,
		suiteRuns: info.suiteRuns,
		machine: { cpu, cores: os.availableParallelism(), memoryGiB: Math.round(os.totalmem() / 2 ** 30), hostKernel: os.release() },
		guestKernel: info.image.kernelVersion,
		accel: info.image.accel,
		qemu,
		load,
		figures: rec.figures,
		ratios: rec.ratios,
		goals,
	};
	const suffix = info.partial ? '.partial' : '';
	writeFileSync(path.join(repoRoot, 'bench', `results${suffix}.json`), `${JSON.stringify(results, null, 2)}\n`);

	const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
	const md = [
		'# Benchmark results',
		'',
		`Written by \`npm run bench\` (bench/run.ts; what each figure measures: bench/README.md). Figures are the median and spread (min, max) of several runs; ratios are taken between medians of the same run. Nothing here is a pass or a fail.`,
		'',
		`- when: ${results.date}, ${results.minutes} minutes (${Object.entries(info.groupMinutes).map(([g, m]) => `${g} ${m}`).join(', ')}), ${info.runs} runs per figure, ${info.suiteRuns} per suite figure${info.partial ? `; partial run: ${info.groups.join(', ')}` : ''}`,
		`- machine: ${cpu}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, host kernel ${results.machine.hostKernel}`,
		`- guest: Debian kernel ${info.image.kernelVersion} under ${info.image.accel}; ${qemu}`,
		`- load average (1, 5, 15 min): before ${fmtLoad(load.before)}, after ${fmtLoad(load.after)}${load.during1min ? `; 1-minute load during the run min ${load.during1min.min.toFixed(2)}, median ${load.during1min.median.toFixed(2)}, max ${load.during1min.max.toFixed(2)}` : ''}`,
		'',
	];
	for (const group of Object.keys(GROUP_TITLES)) {
		const figures = rec.figures.filter((f) => f.group === group);
		const ratios = rec.ratios.filter((r) => r.group === group);
		if (!figures.length) continue;
		md.push(`## ${GROUP_TITLES[group]}`, '', ...figureTable(figures), '');
		if (ratios.length) md.push(...ratioTable(ratios), '');
	}
	md.push(
		'## Goals, as measured',
		'',
		'| goal | measured | on | verdict |',
		'|---|---|---|---|',
		...goals.map((g) => `| ${cell(g.goal)} | ${g.measured === undefined ? '-' : `${formatValue(g.measured)} ${g.unit}`} | ${cell(g.source)} | ${g.verdict} |`),
		'',
	);
	const text = md.join('\n');
	writeFileSync(path.join(repoRoot, 'bench', `RESULTS${suffix}.md`), text);
	process.stdout.write(`${text}\n`);
}
