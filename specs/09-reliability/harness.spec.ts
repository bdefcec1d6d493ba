// The harness under faults: a student's module that hangs, panics at load, floods the console
// or never returns from insmod, and the test runner killed in the middle of a run. Both run the
// real runner (vitest) as a child with a TMPDIR of its own, so every process and file of that
// run can be told apart from other runs on the machine: they all carry it in their environment.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { sleep } from '../../guest/guest.js';
import { repoRoot } from '../../guest/paths.js';
import { childEnv, copyCourse } from '../../curriculum/testing.js';
import { figure } from './support.js';

const VITEST = path.join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');

/** The processes whose environment holds TMPDIR=dir: everything a child run started. */
function processesOf(dir: string): { pid: number; cmd: string }[] {
	const found: { pid: number; cmd: string }[] = [];
	for (const p of readdirSync('/proc')) {
		if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
		try {
			if (!readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(`TMPDIR=${dir}`)) continue;
			const cmd = readFileSync(`/proc/${p}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
			if (cmd) found.push({ pid: Number(p), cmd }); // a zombie has no command line
		} catch {
			// gone meanwhile
		}
	}
	return found;
}

/** Kill what a child run left (processes we started, by their pid) and remove its TMPDIR. */
function cleanUp(dir: string): void {
	for (const p of processesOf(dir)) {
		try {
			process.kill(p.pid, 'SIGKILL');
		} catch {
			// gone meanwhile
		}
	}
	rmSync(dir, { recursive: true, force: true });
}

function sizeOf(dir: string): number {
	let total = 0;
	for (const e of readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		total += e.isDirectory() ? sizeOf(p) : statSync(p).size;
	}
	return total;
}

/**
 * Start the real runner in `cwd` (the repository, or a copy of the course) with a TMPDIR of its
 * own, out of this run's vitest environment, sharing this checkout's build cache.
 */
function runner(args: string[], tmp: string, extraEnv: Record<string, string> = {}, cwd = repoRoot): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
	const child = spawn(process.execPath, [VITEST, 'run', ...args], { cwd, env: childEnv({ ...extraEnv, TMPDIR: tmp }), stdio: ['ignore', 'pipe', 'pipe'] });
	let out = '';
	child.stdout!.on('data', (d) => (out += d));
	child.stderr!.on('data', (d) => (out += d));
	const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
	return { child, output: () => out, exited };
}

interface JsonTest {
	title: string;
	status: string;
	failureMessages: string[];
	meta?: { failure?: { kind: string; message: string; consoles: { events: string; excerpt: string }[]; logs: string[] } };
}

describe('the harness under faults', () => {
	test('a student module that hangs, panics at load, floods the console or never returns from insmod fails its own lesson with clear evidence, and the next lesson still runs and passes', { timeout: 400_000 }, async ({ onTestFinished }) => {
		const tmp = mkdtempSync(path.join(os.tmpdir(), 'lab-reliability-'));
		const report = path.join(tmp, 'report.json');
		const childTmp = path.join(tmp, 'tmp');
		mkdirSync(childTmp);
		onTestFinished(() => cleanUp(tmp));
		// in a copy of the course: its lessons keep their evidence in the copy's results/, where no
		// other run in this checkout (another engineer's npm test) writes or clears the same folders
		const course = path.join(tmp, 'course');
		copyCourse(course);
		const started = performance.now();
		const run = runner(['--config', 'fixtures/reliability/harness/vitest.config.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], childTmp, {}, course);
		const limit = 300_000;
		const code = await Promise.race([run.exited, sleep(limit).then(() => 'hung' as const)]);
		expect(code, `the run of the misbehaving lessons ended by itself within ${limit / 1000} s:\n${run.output().slice(-3000)}`).not.toBe('hung');
		expect(code, 'the run failed: four of its lessons must fail').toBe(1);
		const json = JSON.parse(readFileSync(report, 'utf8')) as { testResults: { assertionResults: JsonTest[] }[] };
		const tests = new Map(json.testResults.flatMap((f) => f.assertionResults).map((t) => [t.title.split(' ')[0], t]));

		const evidence = (id: string) => {
			const t = tests.get(id);
			expect(t?.status, `lesson ${id} ran and failed:\n${run.output().slice(-2000)}`).toBe('failed');
			const f = t!.meta?.failure;
			expect(f, `lesson ${id} failed with the lesson's evidence (kind, message, console, log)`).toBeDefined();
			for (const log of f!.logs) expect(existsSync(path.join(course, log)), `the full console of lesson ${id} is kept: ${log}`).toBe(true);
			expect(f!.logs.length, `lesson ${id} keeps a console log`).toBeGreaterThan(0);
			return { ...f!, events: f!.consoles.map((c) => c.events).join('; '), text: t!.failureMessages.join('\n') };
		};
		const hang = evidence('9.1');
		expect(hang.kind, 'the hang: the harness gave up on the command').toBe('guest');
		expect(hang.message).toMatch(/did not finish within/);
		expect(hang.events, 'and the console shows why: a soft lockup in the module\'s thread').toMatch(/soft lockup \(misbehave-hang/);
		const panic = evidence('9.2');
		expect(panic.message, 'the panic: the guest died, and the message quotes the panic').toMatch(/guest exited.*kernel panic: misbehave: panic at load/);
		const flood = evidence('9.3');
		expect(flood.kind, 'the flood: the lesson\'s own assertion fails, the harness keeps up').toBe('assertion');
		expect(flood.consoles.map((c) => c.excerpt).join('\n'), 'the console excerpt shows the flood').toMatch(/misbehave: flood line \d+/);
		const noreturn = evidence('9.4');
		expect(noreturn.message).toMatch(/did not finish within/);
		expect(noreturn.events, 'the console names insmod as a hung task').toMatch(/hung task insmod/);
		for (const f of [hang, panic, flood, noreturn]) expect(f.text, 'the failure carries the hint').toMatch(/Hint: kernel\/misbehave/);
		expect(tests.get('9.5')?.status, 'the lesson after them, on a good module, still runs and passes').toBe('passed');

		// nothing of that run is left: no process, no file in its TMPDIR
		await sleep(500);
		expect(processesOf(childTmp), 'no process of the finished run survives').toEqual([]);
		expect(readdirSync(childTmp), 'the finished run left nothing in its TMPDIR').toEqual([]);
		figure('harness-misbehave', { lessons: 5, failed_with_evidence: 4, seconds: Math.round((performance.now() - started) / 1000) });
	});

	test('the runner SIGKILLed while a test holds a guest: no QEMU, no worker, no process of that run survives', { timeout: 200_000 }, async ({ onTestFinished }) => {
		const tmp = mkdtempSync(path.join(os.tmpdir(), 'lab-reliability-'));
		onTestFinished(() => cleanUp(tmp));
		const run = runner(['--project', 'lessons', 'specs/09-reliability/runner-kill-victim.spec.ts'], tmp, { LAB_RELIABILITY_VICTIM: '1' });
		const deadline = performance.now() + 120_000;
		while (!/victim: guest up/.test(run.output())) {
			if (performance.now() > deadline) throw new Error(`the victim run never had its guest up:\n${run.output().slice(-3000)}`);
			const exited = await Promise.race([run.exited.then(() => true), sleep(50).then(() => false)]);
			if (exited) throw new Error(`the victim run ended before its guest was up:\n${run.output().slice(-3000)}`);
		}
		const before = processesOf(tmp);
		expect(before.some((p) => p.cmd.includes('qemu-system')), `a QEMU of the run is up:\n${before.map((p) => p.cmd.slice(0, 120)).join('\n')}`).toBe(true);
		run.child.kill('SIGKILL');
		const killedAt = performance.now();
		// QEMU dies with its parent (setpriv --pdeathsig); its parent is a worker, which must
		// not go on running the test for the runner that is gone
		let left = processesOf(tmp);
		while (left.length && performance.now() - killedAt < 10_000) {
			await sleep(100);
			left = processesOf(tmp);
		}
		const leftBytes = sizeOf(tmp);
		figure('harness-kill', { processes_before: before.length, survivors_after_10s: left.length, qemu_survivors: left.filter((p) => p.cmd.includes('qemu-system')).length, tmp_bytes_left: leftBytes });
		expect(left.map((p) => `${p.pid} ${p.cmd.slice(0, 140)}`), 'nothing of the killed run is alive 10 s later (before df251d6 the orphaned worker went on running its test, and its QEMU with it)').toEqual([]);
	});
});
