// Self-tests of the guest fixture against a real guest: the agent's protocol, time limits,
// crash reporting, and that no QEMU outlives its owner.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, onTestFinished, test } from 'vitest';
import { CommandTimeout, Guest, GuestDied, sleep } from './guest.js';
import type { LabGuest } from './lab-guest.js';
import { guestTest } from './lesson.js';
import { repoRoot } from './paths.js';

const { image, snapshot } = inject('lab');

const alive = (pid: number) => {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
};

describe('the guest agent', () => {
	guestTest('separates stdout and stderr, reports exit codes and signals', async ({ guest: g }) => {
		const r = await g.run('echo out; echo err >&2; exit 3');
		expect(r).toMatchObject({ status: 3, stdout: 'out\n', stderr: 'err\n' });
		expect((await g.run('kill -SEGV $$')).status).toBe(128 + 11);
	});

	guestTest('runs commands side by side: a blocked one does not hold up the next', async ({ guest: g }) => {
		const slow = g.spawn('sleep 30');
		const pid = await slow.pid;
		await g.waitForState(pid, 'S');
		const quick = await g.run('echo quick');
		expect(quick.stdout).toBe('quick\n');
		slow.kill(9);
		expect((await slow.result).status).toBe(137);
		expect(await g.procState(pid)).toBeUndefined();
	});

	guestTest('a background job does not keep its command open', async ({ guest: g }) => {
		const r = await g.run('sleep 60 & echo started');
		expect(r.stdout).toBe('started\n');
	});

	guestTest('carries binary data both ways intact (upload, then 1 MiB of output)', async ({ guest: g }) => {
		const data = randomBytes(1 << 20);
		await g.put('/tmp/blob', data, 0o600);
		const r = await g.run('md5sum /tmp/blob; stat -c %a /tmp/blob');
		expect(r.stdout).toBe(`${createHash('md5').update(data).digest('hex')}  /tmp/blob\n600\n`);
		const big = await g.run('head -c 1048576 /dev/zero | tr "\\0" x');
		expect(big.stdout.length).toBe(1 << 20);
	});

	guestTest('an upload to a FIFO waits for its reader without blocking other commands', async ({ guest: g }) => {
		await g.run('mkfifo /tmp/fifo');
		const upload = g.put('/tmp/fifo', 'through the fifo\n');
		await sleep(300);
		expect((await g.run('echo still served')).stdout, 'the agent serves commands while the upload waits').toBe('still served\n');
		const reader = await g.run('cat /tmp/fifo');
		await upload;
		expect(reader.stdout).toBe('through the fifo\n');
	});

	guestTest('with the host root mounted, the course folders are at their host paths, wherever the clone is', async ({ guest: g }) => {
		await g.mountHostRoot();
		const file = path.join(repoRoot, 'package.json');
		expect((await g.run(`cat ${file}`)).stdout).toBe(readFileSync(file, 'utf8'));
		expect((await g.run('touch /tmp/writable && echo ok')).stdout, 'the guest still has its own writable /tmp').toBe('ok\n');
	});

	guestTest('runs a command as a normal user', async ({ guest: g }) => {
		expect((await g.run('id -u; id -g', { uid: 1000 })).stdout).toBe('1000\n1000\n');
	});

	guestTest('a restored guest has the host clock, not the snapshot clock', async ({ guest: g }) => {
		const guestNow = Number((await g.run('date +%s')).stdout);
		expect(Math.abs(guestNow - Date.now() / 1000)).toBeLessThan(5);
	});
});

describe('time limits and crashes', () => {
	guestTest('a command past its limit fails with CommandTimeout and is killed', async ({ guest: g }) => {
		const r = g.spawn('echo begun; exec sleep 100', { timeoutMs: 1500 });
		const pid = await r.pid;
		await expect(r.result).rejects.toThrow(CommandTimeout);
		await expect(r.result).rejects.toThrow(/begun/);
		await g.waitUntil('the timed-out command to be killed', async () => ((await g.procState(pid)) ? undefined : true), 5000);
	});

	guestTest('a kernel panic ends the guest and fails the pending command with the panic', async ({ guest: g }) => {
		const r = g.run('echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger; sleep 30');
		await expect(r).rejects.toThrow(GuestDied);
		await expect(r).rejects.toThrow(/kernel panic: sysrq triggered crash/);
		expect(g).toHavePanicked(/sysrq triggered crash/);
		await expect(g.run('true')).rejects.toThrow(GuestDied);
	});
});

describe('insmod', () => {
	guestTest("a module whose init fails has it run once, with busybox's message and the errno as status", async ({ guest: g }) => {
		const r = await g.insmod('misbehave', 'how=fail');
		expect(r.output.trim()).toBe(`insmod: can't insert '${r.module.path}': Invalid argument`);
		expect(r.status, 'the status is the errno (EINVAL)').toBe(22);
		// busybox's insmod tries init_module() after a failed finit_module(): the init ran twice
		expect((await g.moduleLog('misbehave')).filter((l) => l.startsWith('loaded')), 'the init logs once').toEqual(['loaded (how=fail)']);
		expect((await g.insmod('misbehave', 'how=none')).status, 'and the module loads afterwards').toBe(0);
	});
});

describe('kernel address layout', () => {
	const textAddress = async (g: LabGuest) => (await g.run("grep ' _text$' /proc/kallsyms")).stdout.split(' ')[0];

	guestTest('the vmlinux boot runs at the link address; a KASLR boot (compressed kernel) does not', async ({ vm }) => {
		expect(await textAddress(await vm.guest())).toBe('ffffffff81000000');
		expect(await textAddress(await vm.guest({ kaslr: true }))).not.toBe('ffffffff81000000');
	});
});

describe('lifetime', () => {
	test('LAB_STATS_FILE gets one JSON line per guest that comes up, with its kind and time', async () => {
		const tmp = mkdtempSync(path.join(os.tmpdir(), 'lab-stats-'));
		const file = path.join(tmp, 'guests.jsonl');
		const before = process.env.LAB_STATS_FILE;
		process.env.LAB_STATS_FILE = file;
		try {
			const g = await Guest.start(image, { incoming: snapshot });
			await g.close();
			const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; ms: number; accel: string });
			expect(lines).toEqual([{ kind: 'restore', ms: expect.any(Number), accel: image.accel }]);
			expect(lines[0]!.ms).toBeGreaterThan(0);
		} finally {
			if (before === undefined) delete process.env.LAB_STATS_FILE;
			else process.env.LAB_STATS_FILE = before;
			rmSync(tmp, { recursive: true, force: true });
		}
	});

	test('close() kills QEMU and removes its sockets', async () => {
		const g = await Guest.start(image, { incoming: snapshot });
		const dir = g.dir;
		await g.close();
		expect(g.hasExited).toBe(true);
		expect(existsSync(dir)).toBe(false);
	});

	test('QEMU dies with the process that started it, even by SIGKILL', async () => {
		// a child process starts a guest, prints QEMU's pid, and is then killed; what it cannot
		// clean up (its guest's folder) lands in a TMPDIR of its own, which this test removes
		const tmp = mkdtempSync(path.join(os.tmpdir(), 'lab-killed-'));
		onTestFinished(() => rmSync(tmp, { recursive: true, force: true }));
		const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'guest/testing/start-and-wait.ts'), snapshot, JSON.stringify(image)], {
			stdio: ['ignore', 'pipe', 'inherit'],
			env: { ...process.env, TMPDIR: tmp },
		});
		const qemuPid = await new Promise<number>((resolve, reject) => {
			child.stdout.on('data', (d) => resolve(Number(String(d).trim())));
			child.on('exit', (code) => reject(new Error(`helper exited early (${code})`)));
		});
		expect(alive(qemuPid)).toBe(true);
		child.kill('SIGKILL');
		const deadline = Date.now() + 5000;
		while (alive(qemuPid) && Date.now() < deadline) await sleep(20);
		expect(alive(qemuPid), `QEMU ${qemuPid} outlived its parent`).toBe(false);
	});
});
