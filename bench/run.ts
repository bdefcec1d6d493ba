// `npm run bench`: measures and prints figures; nothing here passes or fails on a threshold.
// Writes bench/results.json and bench/RESULTS.md. Ratios are taken within one run because the
// machines are shared and noisy.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseAccel } from '../guest/accel.js';
import { Guest, type GuestImage } from '../guest/guest.js';
import { buildInitramfs } from '../guest/initramfs.js';
import { guestKernel } from '../guest/kernel.js';
import { progress, repoRoot } from '../guest/paths.js';

interface Figure {
	group: string;
	name: string;
	unit: 'ms';
	runs: number;
	median: number;
	min: number;
	max: number;
}

const figures: Figure[] = [];

async function measure(group: string, name: string, runs: number, once: () => Promise<number>): Promise<Figure> {
	const samples: number[] = [];
	for (let i = 0; i < runs; i++) samples.push(await once());
	samples.sort((a, b) => a - b);
	const f: Figure = { group, name, unit: 'ms', runs, median: samples[Math.floor(runs / 2)], min: samples[0], max: samples[runs - 1] };
	figures.push(f);
	progress(`${group}: ${name}: median ${f.median.toFixed(1)} ms (min ${f.min.toFixed(1)}, max ${f.max.toFixed(1)}, ${runs} runs)`);
	return f;
}

/** Start a guest, run one trivial command, and return the time to its answer. */
async function toFirstCommand(image: GuestImage, incoming?: string): Promise<number> {
	const t0 = performance.now();
	const g = await Guest.start(image, { incoming });
	try {
		await g.afterRestore();
		await g.run('true');
		return performance.now() - t0;
	} finally {
		await g.close();
	}
}

const kernel = guestKernel();
const initramfs = buildInitramfs(kernel);
const base = { vmlinux: kernel.vmlinux, initramfs, kernelVersion: kernel.version, kernelBuildDir: kernel.buildDir };
const image: GuestImage = { ...base, accel: await chooseAccel(base) };
const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-bench-'));
try {
	const cold = await measure('guest', 'cold boot to first command (PVH vmlinux)', 5, () => toFirstCommand(image));
	const naive = await measure('guest', 'cold boot to first command (bzImage, the naive recipe)', 3, () =>
		toFirstCommand({ ...image, vmlinux: kernel.bzImage }),
	);
	const snapshot = path.join(dir, 'state');
	{
		const g = await Guest.start(image);
		await g.saveState(snapshot);
		await g.close();
	}
	const restore = await measure('guest', 'snapshot restore to first command', 10, () => toFirstCommand(image, snapshot));
	{
		const g = await Guest.start(image, { incoming: snapshot });
		await g.afterRestore();
		await measure('guest', 'round trip of a trivial command (true)', 200, async () => (await g.run('true')).ms);
		await g.close();
	}
	const ratios = {
		'naive boot / PVH boot': naive.median / cold.median,
		'cold boot / restore': cold.median / restore.median,
	};
	for (const [k, v] of Object.entries(ratios)) progress(`ratio ${k}: ${v.toFixed(2)}`);

	const cpu = os.cpus()[0]?.model ?? 'unknown';
	const qemu = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split('\n')[0];
	const results = {
		date: new Date().toISOString(),
		machine: { cpu, cores: os.availableParallelism(), memoryGiB: Math.round(os.totalmem() / 2 ** 30), hostKernel: os.release() },
		guestKernel: kernel.version,
		accel: image.accel,
		qemu,
		figures,
		ratios,
	};
	writeFileSync(path.join(repoRoot, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
	const md = [
		'# Benchmark results',
		'',
		`${results.date}: ${cpu}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, host kernel ${results.machine.hostKernel}; guest ${kernel.version} under ${image.accel}; ${qemu}.`,
		'',
		'| group | figure | median | min | max | runs |',
		'|---|---|---|---|---|---|',
		...figures.map((f) => `| ${f.group} | ${f.name} | ${f.median.toFixed(1)} ms | ${f.min.toFixed(1)} | ${f.max.toFixed(1)} | ${f.runs} |`),
		'',
		'| ratio (same run) | value |',
		'|---|---|',
		...Object.entries(ratios).map(([k, v]) => `| ${k} | ${v.toFixed(2)} |`),
		'',
	].join('\n');
	writeFileSync(path.join(repoRoot, 'bench', 'RESULTS.md'), md);
	process.stdout.write(`${md}\n`);
} finally {
	rmSync(dir, { recursive: true, force: true });
}
