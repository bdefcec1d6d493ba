import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
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
