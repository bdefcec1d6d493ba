import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { repoRoot } from './paths.js';
import { ownedTempDir, sweepAbandoned } from './scratch.js';

let tmp: string;
const saved = process.env.TMPDIR;
beforeEach(() => {
	tmp = mkdtempSync(path.join(os.tmpdir(), 'lab-scratch-test-'));
	process.env.TMPDIR = tmp; // os.tmpdir() follows it
});
afterEach(() => {
	if (saved === undefined) delete process.env.TMPDIR;
	else process.env.TMPDIR = saved;
	rmSync(tmp, { recursive: true, force: true });
});

test("a folder left by a process that died is removed; a live owner's and a stranger's stay", () => {
	const dead = spawnSync('true').pid!;
	const abandoned = ownedTempDir('lab-run-');
	writeFileSync(path.join(abandoned, 'owner'), `${dead}\n`);
	const mine = ownedTempDir('lab-guest-');
	const stranger = path.join(tmp, 'lab-run-without-owner');
	mkdirSync(stranger);
	writeFileSync(path.join(tmp, 'lab-guest-file'), 'a file, not a folder of ours');
	expect(sweepAbandoned()).toEqual([abandoned]);
	expect([abandoned, mine, stranger, path.join(tmp, 'lab-guest-file')].map((p) => existsSync(p))).toEqual([false, true, true, true]);
});

test.each(['SIGINT', 'SIGTERM'] as const)('a process ended by %s (Ctrl-C) removes its folders and still dies by the signal', async (signal) => {
	const script = path.join(tmp, 'owner.mts');
	writeFileSync(script, `import { ownedTempDir } from ${JSON.stringify(path.join(repoRoot, 'guest/scratch.ts'))};\nownedTempDir('lab-run-');\nownedTempDir('lab-guest-');\nconsole.log('made');\nsetInterval(() => {}, 1000);\n`);
	// node itself (not the tsx launcher, which turns a signal into an exit status)
	const child = spawn(process.execPath, ['--import', 'tsx', script], {
		cwd: repoRoot,
		env: { ...process.env, TMPDIR: tmp },
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	const ended = new Promise<string>((resolve) => child.once('exit', (code, sig) => resolve(`${code ?? sig}`)));
	const made = new Promise<string>((resolve) => child.stdout.on('data', (d: Buffer) => String(d).includes('made') && resolve('made')));
	expect(await Promise.race([made, ended]), 'the child made its folders (it did not exit first)').toBe('made');
	expect(readdirSync(tmp).filter((f) => f.startsWith('lab-')).length, 'the child made its two folders').toBe(2);
	child.kill(signal);
	expect(await ended).toBe(signal);
	expect(readdirSync(tmp).filter((f) => f.startsWith('lab-'))).toEqual([]);
});
