// The relay's decisions against Debian's real clamd on the host: verdicts, the error policy,
// the verdict cache, the concurrency limit (seen from between the relay and clamd), paths that
// are not UTF-8, and the query line it accepts. The device side runs in the guest (lesson 4.5).
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ClamdClient } from './client.js';
import { type RunningClamd, startClamd } from './daemon.js';
import { writeEicar } from './eicar.js';
import { type Decision, Relay, type RelayOptions, formatAnswer, parseArgs, parseQuery, quotePath } from './relay.js';
import { signaturesDir } from './samples.js';

let work: string;
let clamd: RunningClamd;
let eicar: string;
let clean: string;

beforeAll(async () => {
	work = mkdtempSync(path.join(os.tmpdir(), 'lab-relay-'));
	chmodSync(work, 0o755);
	const db = path.join(work, 'db');
	mkdirSync(db);
	copyFileSync(path.join(signaturesDir(), 'lab.hdb'), path.join(db, 'lab.hdb'));
	eicar = path.join(work, 'eicar.com');
	writeEicar(eicar);
	clean = path.join(work, 'clean.txt');
	writeFileSync(clean, 'nothing to see here\n');
	clamd = await startClamd({ databaseDir: db });
});

afterAll(async () => {
	await clamd?.stop();
	rmSync(work, { recursive: true, force: true });
});

let serial = 0;
// the test process stands for the exec-ing one: its root is the relay's
const query = (p: string | Buffer, fd = -1) => ({ serial: ++serial, pid: process.pid, fd, path: Buffer.from(p) });

function relayFor(client: ClamdClient, options: Partial<RelayOptions> = {}): { relay: Relay; lines: string[] } {
	const lines: string[] = [];
	const relay = new Relay({ client, onError: 'deny', maxScans: 4, cacheSize: 100, log: (l) => lines.push(l), ...options });
	return { relay, lines };
}

describe('the query line', () => {
	test('parses the protocol exactly', () => {
		expect(parseQuery('Q 7 123 -1 2f62696e2f6c73\n')).toEqual({ serial: 7, pid: 123, fd: -1, path: Buffer.from('/bin/ls') });
		expect(parseQuery('Q 8 1 5 -\n')).toEqual({ serial: 8, pid: 1, fd: 5, path: undefined });
		expect(parseQuery('Q 9 2 -1 2f0aff')?.path).toEqual(Buffer.from([0x2f, 0x0a, 0xff]));
	});

	test.each([
		['uppercase hex', 'Q 7 123 -1 2F62\n'],
		['an odd number of hex digits', 'Q 7 123 -1 2f6\n'],
		['a missing field', 'Q 7 123 2f62\n'],
		['two spaces', 'Q  7 123 -1 2f62\n'],
		['a raw path', 'Q 7 123 -1 /bin/ls\n'],
		['an answer', 'A 7 allow\n'],
		['two lines', 'Q 7 123 -1 2f\nQ 8 1 -1 2f\n'],
	])('rejects %s', (_, line) => expect(parseQuery(line)).toBeUndefined());

	test('answers and log paths', () => {
		expect(formatAnswer(12, true)).toBe('A 12 allow\n');
		expect(formatAnswer(13, false)).toBe('A 13 deny\n');
		expect(quotePath(Buffer.from('/tmp/a "b"\\\n\xff', 'latin1'))).toBe('"/tmp/a \\"b\\"\\\\\\x0a\\xff"');
	});
});

describe('decisions with the real clamd', () => {
	test('clean allows, EICAR denies with its signature, one log line each', async () => {
		const { relay, lines } = relayFor(clamd.client());
		const ok = await relay.decide(query(clean));
		const bad = await relay.decide(query(eicar));
		await relay.close();
		expect(ok).toMatchObject({ allow: true, verdict: 'clean', cached: false });
		expect(bad).toMatchObject({ allow: false, verdict: 'found', signature: 'Eicar-Test-Signature' });
		expect(lines).toHaveLength(2);
		expect(lines[1]).toMatch(new RegExp(`^decision serial=\\d+ pid=${process.pid} fd=-1 answer=deny verdict=found signature=Eicar-Test-Signature cached=no ms=\\d+\\.\\d path=".*eicar\\.com"$`));
	});

	test('a path that is not UTF-8, with a newline, is scanned by streaming its bytes', async () => {
		const odd = Buffer.concat([Buffer.from(`${work}/odd\n`), Buffer.from([0xff, 0xfe]), Buffer.from('.com')]);
		copyFileSync(eicar, odd);
		const { relay } = relayFor(clamd.client());
		const d = await relay.decide(query(odd));
		await relay.close();
		expect(d).toMatchObject({ allow: false, verdict: 'found', signature: 'Eicar-Test-Signature' });
	});

	test('a handed descriptor is scanned, not the path (and closed afterwards)', async () => {
		const { openSync, fstatSync } = await import('node:fs');
		const fd = openSync(eicar, 'r');
		const { relay } = relayFor(clamd.client());
		// the path names a clean file: only the descriptor's content can give this verdict
		const d = await relay.decide({ ...query(clean), fd });
		await relay.close();
		expect(d).toMatchObject({ allow: false, verdict: 'found' });
		expect(() => fstatSync(fd), 'the relay closes the descriptor it was handed').toThrow(/EBADF/);
	});

	test('the cache: a repeated exec is not rescanned; a changed file is', async () => {
		const file = path.join(work, 'cached.sh');
		writeFileSync(file, '#!/bin/sh\necho hi\n');
		const { relay } = relayFor(clamd.client());
		const first = await relay.decide(query(file));
		const again = await relay.decide(query(file));
		expect(first.cached).toBe(false);
		expect(again).toMatchObject({ allow: true, cached: true });
		// a changed file: same inode, new size, mtime and ctime
		appendFileSync(file, 'echo changed\n');
		expect((await relay.decide(query(file))).cached).toBe(false);
		// a replaced file: EICAR renamed over it has another inode
		const tmp = path.join(work, 'cached.tmp');
		copyFileSync(eicar, tmp);
		(await import('node:fs')).renameSync(tmp, file);
		expect(await relay.decide(query(file))).toMatchObject({ allow: false, cached: false, verdict: 'found' });
		expect(await relay.decide(query(file))).toMatchObject({ allow: false, cached: true });
		// concurrent queries for one file share one scan
		const burst = await Promise.all(Array.from({ length: 5 }, () => relay.decide(query(clean))));
		expect(burst.every((d) => d.allow)).toBe(true);
		await relay.close();
	});

	test('clamd unreachable: denied by default, allowed with on-error allow', async () => {
		const gone = new ClamdClient({ socket: path.join(work, 'no-such.sock'), timeoutMs: 1000 });
		const deny = relayFor(gone);
		expect(await deny.relay.decide(query(clean))).toMatchObject({ allow: false, verdict: 'error' });
		expect(deny.lines[0]).toMatch(/answer=deny verdict=error reason="cannot connect to clamd/);
		const allow = relayFor(gone, { onError: 'allow' });
		expect(await allow.relay.decide(query(clean))).toMatchObject({ allow: true, verdict: 'error' });
		// errors are not cached: the next exec asks again
		expect(allow.relay.cache.size).toBe(0);
	});

	test('clamd hangs (SIGSTOP): the scan times out and the policy answers', async () => {
		const { relay } = relayFor(clamd.client({ timeoutMs: 400 }));
		await relay.decide(query(clean)); // the session is open before clamd stops
		const fresh = path.join(work, 'fresh.txt');
		writeFileSync(fresh, 'new\n');
		process.kill(clamd.pid, 'SIGSTOP');
		let d: Decision;
		try {
			d = await relay.decide(query(fresh));
		} finally {
			process.kill(clamd.pid, 'SIGCONT');
		}
		await relay.close();
		expect(d).toMatchObject({ allow: false, verdict: 'error' });
		expect(d.reason).toMatch(/did not answer within 400 ms/);
		expect(d.ms).toBeLessThan(2000);
	});
});

/**
 * A unix socket between the relay and clamd that counts the SCAN commands sent and not yet
 * answered, and remembers the most at any time: the concurrency clamd really sees.
 */
async function countingProxy(target: string, listen: string): Promise<{ peak: () => number; close: () => void }> {
	let outstanding = 0;
	let peak = 0;
	const server = net.createServer((client) => {
		const upstream = net.connect(target);
		client.on('data', (d: Buffer) => {
			const text = d.toString('latin1');
			const scans = text.split('\0').filter((c) => c.startsWith('zSCAN ')).length;
			outstanding += scans;
			peak = Math.max(peak, outstanding);
			upstream.write(d);
		});
		upstream.on('data', (d: Buffer) => {
			const replies = d.toString('latin1').split('\0').length - 1;
			outstanding -= replies;
			client.write(d);
		});
		client.on('close', () => upstream.destroy());
		upstream.on('close', () => client.destroy());
		client.on('error', () => {});
		upstream.on('error', () => {});
	});
	await new Promise<void>((r) => server.listen(listen, r));
	return { peak: () => peak, close: () => server.close() };
}

test('at most --max-scans scans reach clamd at once', async () => {
	const proxySocket = path.join(work, 'proxy.sock');
	const proxy = await countingProxy(clamd.socket, proxySocket);
	const files = Array.from({ length: 24 }, (_, i) => {
		const f = path.join(work, `many-${i}.bin`);
		// big enough that clamd takes a moment over each
		writeFileSync(f, Buffer.alloc(256 * 1024, i));
		return f;
	});
	const { relay } = relayFor(new ClamdClient({ socket: proxySocket }), { maxScans: 3 });
	const decisions = await Promise.all(files.map((f) => relay.decide(query(f))));
	await relay.close();
	proxy.close();
	expect(decisions.every((d) => d.allow && d.verdict === 'clean')).toBe(true);
	expect(proxy.peak(), 'SCAN commands waiting for clamd at once').toBeLessThanOrEqual(3);
	expect(proxy.peak(), 'the scans do overlap up to the limit').toBeGreaterThanOrEqual(2);
	expect(relay.limiter.peak).toBe(3);
	expect(statSync(files[0]).size).toBe(256 * 1024);
});

test('command line', () => {
	expect(parseArgs(['--clamd', '/run/c.sock'])).toMatchObject({ clamd: '/run/c.sock', device: '/dev/execgate', onError: 'deny', maxScans: 4 });
	expect(parseArgs(['--clamd', 's', '--on-error', 'allow', '--max-scans', '2', '--delay-ms', '100'])).toMatchObject({ onError: 'allow', maxScans: 2, delayMs: 100 });
	expect(() => parseArgs([])).toThrow(/--clamd is required/);
	expect(() => parseArgs(['--clamd', 's', '--max-scans', '0'])).toThrow(/--max-scans needs a whole number of at least 1/);
	expect(() => parseArgs(['--clamd', 's', '--on-error', 'maybe'])).toThrow(/unknown or incomplete argument --on-error maybe/);
});
