// The clamd client against Debian's real clamd on the host, with the project's own database:
// every reply kind, stream framing, sessions, time limits and the connection limit.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ClamdClient, ClamdError, ClamdTimeout, SourceError, parseScanReply } from './client.js';
import { type RunningClamd, startClamd } from './daemon.js';
import { eicarBytes, writeEicar } from './eicar.js';
import { TESTFILES_DIR, signaturesDir } from './samples.js';

const FOUND_EICAR = { verdict: 'found', signature: 'Eicar-Test-Signature', official: false };

let work: string;
let db: string;
let clamd: RunningClamd;
let client: ClamdClient;
let eicar: string;
let clean: string;

beforeAll(async () => {
	work = mkdtempSync(path.join(os.tmpdir(), 'lab-client-'));
	chmodSync(work, 0o755); // a clamd running as nobody reads the database and samples here
	db = path.join(work, 'db');
	mkdirSync(db, { mode: 0o755 });
	copyFileSync(path.join(signaturesDir(), 'lab.hdb'), path.join(db, 'lab.hdb'));
	eicar = path.join(work, 'eicar.com');
	writeEicar(eicar);
	clean = path.join(work, 'clean.txt');
	writeFileSync(clean, 'nothing to see here\n');
	clamd = await startClamd({ databaseDir: db, settings: { StreamMaxLength: '1M', MaxConnectionQueueLength: 20, IdleTimeout: 1 } });
	client = clamd.client();
});

afterAll(async () => {
	await clamd?.stop();
	rmSync(work, { recursive: true, force: true });
});

describe('single commands', () => {
	test('PING and VERSION', async () => {
		await expect(client.ping()).resolves.toBeUndefined();
		expect(await client.version()).toMatch(/^ClamAV \d+\.\d+\.\d+/);
	});

	test('SCAN: found (unofficial signature), clean, and clamd\'s reason for a missing file', async () => {
		expect(await client.scan(eicar)).toEqual(FOUND_EICAR);
		expect(await client.scan(clean)).toEqual({ verdict: 'clean' });
		expect(await client.scan(path.join(work, 'missing'))).toEqual({ verdict: 'error', reason: 'File path check failure: No such file or directory.' });
		// clamd unpacks the archive and finds the test virus inside
		expect(await client.scan(path.join(TESTFILES_DIR, 'clam.zip'))).toEqual({ verdict: 'found', signature: 'ClamAV-Test-File', official: false });
	});

	test('SCAN of a directory reports what it finds inside', async () => {
		const dir = path.join(work, 'dir');
		mkdirSync(dir);
		copyFileSync(clean, path.join(dir, 'a.txt'));
		expect(await client.scan(dir)).toEqual({ verdict: 'clean' });
		copyFileSync(eicar, path.join(dir, 'b.com'));
		expect(await client.scan(dir)).toEqual(FOUND_EICAR);
	});

	test('SCAN of a path with spaces, a colon and a newline', async () => {
		const odd = path.join(work, 'odd: name\nwith newline.com');
		writeEicar(odd);
		expect(await client.scan(odd)).toEqual(FOUND_EICAR);
	});

	test('SCAN refuses a relative path before asking clamd', async () => {
		await expect(client.scan('eicar.com')).rejects.toThrow(/absolute path, got "eicar.com"/);
		await expect(client.scan('/tmp/a\0b')).rejects.toThrow(/NUL/);
	});

	test('INSTREAM from bytes, a file, and a stream in odd pieces', async () => {
		expect(await client.instream(eicarBytes())).toEqual(FOUND_EICAR);
		expect(await client.instream(eicar)).toEqual(FOUND_EICAR);
		expect(await client.instream(Buffer.alloc(0))).toEqual({ verdict: 'clean' });
		expect(await client.instream(path.join(TESTFILES_DIR, 'clam.tar.gz'))).toEqual({ verdict: 'found', signature: 'ClamAV-Test-File', official: false });
		// empty pieces must not be framed: a zero-length chunk would end the stream early
		const bytes = eicarBytes();
		const pieces = [bytes.subarray(0, 1), Buffer.alloc(0), bytes.subarray(1, 40), Buffer.alloc(0), bytes.subarray(40)];
		expect(await client.instream(Readable.from(pieces))).toEqual(FOUND_EICAR);
		// a stream bigger than one 64 KiB chunk, EICAR nowhere: several frames, clean
		expect(await client.instream(Readable.from([Buffer.alloc(200_000, 'a')]))).toEqual({ verdict: 'clean' });
	});

	test('INSTREAM past StreamMaxLength gets clamd\'s own refusal, not a broken pipe', async () => {
		for (let i = 0; i < 5; i++) {
			expect(await client.instream(Buffer.alloc(3 << 20, 1))).toEqual({ verdict: 'error', reason: 'INSTREAM size limit exceeded.' });
		}
		await client.ping();
	});

	test('INSTREAM of a file that cannot be read fails clearly and the client goes on', async () => {
		const err = await client.instream(path.join(work, 'no-such-file')).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(SourceError);
		expect(String(err)).toMatch(/ENOENT.*no-such-file/);
		expect(await client.instream(eicarBytes())).toEqual(FOUND_EICAR);
	});
});

describe('errors from clamd', () => {
	test('Access denied: clamd running as nobody cannot read a root-only file', async () => {
		const secret = path.join(work, 'secret');
		writeFileSync(secret, 'root only\n', { mode: 0o600 });
		const unprivileged = await startClamd({ databaseDir: db, uid: 65534, gid: 65534 });
		try {
			const c = unprivileged.client();
			expect(await c.scan(secret)).toEqual({ verdict: 'error', reason: 'Access denied.' });
			// the same clamd still scans what it may read
			expect(await c.scan(eicar)).toEqual(FOUND_EICAR);
		} finally {
			await unprivileged.stop();
		}
	});

	test('replies that are not verdicts become errors with clamd\'s words', () => {
		expect(parseScanReply('COMMAND READ TIMED OUT\n', 'stream')).toEqual({ verdict: 'error', reason: 'COMMAND READ TIMED OUT' });
		expect(parseScanReply('/a: b: Some.Sig FOUND', '/a: b')).toEqual({ verdict: 'found', signature: 'Some.Sig', official: true });
		expect(parseScanReply('/x: lstat() failed: Permission denied. ERROR', '/x')).toEqual({ verdict: 'error', reason: 'lstat() failed: Permission denied.' });
	});

	test('no clamd at the socket: a ClamdError that names the socket', async () => {
		const nowhere = new ClamdClient({ socket: path.join(work, 'nothing.sock'), timeoutMs: 1000 });
		await expect(nowhere.ping()).rejects.toThrow(ClamdError);
		await expect(nowhere.ping()).rejects.toThrow(/cannot connect to clamd at .*nothing\.sock: connect ENOENT/);
	});

	test('bad options are refused', () => {
		expect(() => new ClamdClient({})).toThrow(/socket path or a TCP port/);
		expect(() => new ClamdClient({ socket: '/s', port: 1 })).toThrow(/not both/);
		expect(() => new ClamdClient({ socket: '/s', maxConnections: 0 })).toThrow(/positive integer/);
	});
});

describe('TCP', () => {
	test('the same replies over TCP', async () => {
		const port = 20_000 + (process.pid % 20_000);
		const tcp = await startClamd({ databaseDir: db, tcpPort: port });
		try {
			const c = new ClamdClient({ host: '127.0.0.1', port });
			await c.ping();
			expect(await c.instream(eicarBytes())).toEqual(FOUND_EICAR);
			expect(await c.scan(clean)).toEqual({ verdict: 'clean' });
		} finally {
			await tcp.stop();
		}
	});
});

describe('sessions (IDSESSION)', () => {
	test('many pipelined scans on one connection, each with its own verdict', async () => {
		// one connection in all: if the session's scans needed more, this would never finish
		const single = clamd.client({ maxConnections: 1 });
		const session = single.session();
		const files = Array.from({ length: 300 }, (_, i) => [eicar, clean, path.join(work, 'missing')][i % 3]!);
		const results = await Promise.all(files.map((f) => session.scan(f)));
		results.forEach((r, i) => {
			if (i % 3 === 0) expect(r).toEqual(FOUND_EICAR);
			else if (i % 3 === 1) expect(r).toEqual({ verdict: 'clean' });
			else expect(r).toMatchObject({ verdict: 'error', reason: expect.stringMatching(/No such file/) });
		});
		expect(await session.instream(eicarBytes())).toEqual(FOUND_EICAR);
		expect(await session.scan(clean)).toEqual({ verdict: 'clean' });
		// the session holds the only connection until it ends
		let pinged = false;
		const ping = single.ping().then(() => (pinged = true));
		await new Promise((r) => setTimeout(r, 100));
		expect(pinged).toBe(false);
		await session.end();
		await ping;
		expect(pinged).toBe(true);
		await expect(session.scan(clean)).rejects.toThrow(/session has ended/);
	});

	test('a stream clamd refuses in a session gets its reply; the next scan reconnects', async () => {
		const session = client.session();
		expect(await session.instream(Buffer.alloc(3 << 20, 1))).toEqual({ verdict: 'error', reason: 'INSTREAM size limit exceeded.' });
		expect(await session.scan(eicar)).toEqual(FOUND_EICAR);
		await session.end();
	});

	test('a session that clamd closed when idle reconnects on the next scan', async () => {
		const session = client.session();
		expect(await session.scan(eicar)).toEqual(FOUND_EICAR);
		await new Promise((r) => setTimeout(r, 1500)); // IdleTimeout 1
		expect(await session.scan(eicar)).toEqual(FOUND_EICAR);
		await session.end();
	});
});

describe('limits', () => {
	test('a stalled stream times out with ClamdTimeout and frees its connection', async () => {
		const c = clamd.client({ timeoutMs: 300, maxConnections: 1 });
		const stalled = new Readable({ read() {} });
		stalled.push(Buffer.from('a few bytes, then nothing'));
		const t0 = performance.now();
		const err = await c.instream(stalled).catch((e: unknown) => e);
		const ms = performance.now() - t0;
		expect(err).toBeInstanceOf(ClamdTimeout);
		expect(String(err)).toMatch(/within 300 ms/);
		expect(ms).toBeGreaterThanOrEqual(290);
		expect(ms).toBeLessThan(2000);
		await c.ping(); // the only connection slot came back
	});

	test('a command that times out waiting for a free connection leaves the queue', async () => {
		const single = clamd.client({ maxConnections: 1, timeoutMs: 200 });
		const session = single.session();
		expect(await session.scan(clean)).toEqual({ verdict: 'clean' }); // holds the only connection
		await expect(single.ping()).rejects.toThrow(/within 200 ms \(waiting for a free connection/);
		await session.end();
		// the slot went back to the gate, not to the caller that gave up
		await expect(single.ping()).resolves.toBeUndefined();
	});

	test('a stalled stream in a session times out too', async () => {
		const session = clamd.client({ timeoutMs: 300 }).session();
		const stalled = new Readable({ read() {} });
		await expect(session.instream(stalled)).rejects.toThrow(ClamdTimeout);
		await session.end();
	});

	test('a burst of 1000 commands queues under the connection limit instead of being refused', async () => {
		// clamd's listen backlog here is 20 (MaxConnectionQueueLength): past it, connect() fails
		// with EAGAIN; the client waits for a free connection, and retries a full backlog
		const burst = (c: ClamdClient) => Promise.allSettled(Array.from({ length: 1000 }, (_, i) => (i % 2 ? c.ping() : c.scan(eicar))));
		for (const c of [clamd.client(), clamd.client({ maxConnections: 1000 })]) {
			const results = await burst(c);
			expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
			results.forEach((r, i) => expect((r as PromiseFulfilledResult<unknown>).value).toEqual(i % 2 ? undefined : FOUND_EICAR));
		}
	});
});

describe('a clamd that floods', () => {
	// a fault injector, not a stand-in for clamd: it answers every connection with an endless line
	test('a reply that never ends is refused once it passes MAX_REPLY_BYTES, in a session and alone', async () => {
		const socket = path.join(work, 'flood.sock');
		const flood = Buffer.alloc(64 * 1024, 'x');
		const server = net.createServer((c) => {
			c.on('error', () => {});
			const pump = () => {
				while (!c.destroyed && c.write(flood)) {}
				if (!c.destroyed) c.once('drain', pump);
			};
			pump();
		});
		await new Promise<void>((r) => server.listen(socket, r));
		try {
			const flooded = new ClamdClient({ socket, timeoutMs: 20_000 });
			const session = flooded.session();
			await expect(session.scan(clean)).rejects.toThrow(/longer than \d+ bytes/);
			await session.end().catch(() => {});
			await expect(flooded.scan(clean)).rejects.toThrow(/longer than \d+ bytes/);
		} finally {
			server.close();
		}
	});
});
