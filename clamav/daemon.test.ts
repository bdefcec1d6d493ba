// The clamd fixture on the host: it starts Debian's clamd with our database only, stops it
// cleanly, and when clamd refuses to start, the error carries clamd's own reason.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ClamdStartError, clamdConfig, startClamd } from './daemon.js';
import { eicarBytes } from './eicar.js';

let work: string;
beforeAll(() => {
	work = mkdtempSync(path.join(os.tmpdir(), 'lab-daemon-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function database(name: string, files: Record<string, string>): string {
	const dir = path.join(work, name);
	mkdirSync(dir);
	for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
	return dir;
}

test('the config names only our database and a socket in the run folder', () => {
	const text = clamdConfig({ databaseDir: '/db', runDir: '/run/x', settings: { StreamMaxLength: '1M' } });
	expect(text).toMatch(/^Foreground yes$/m);
	expect(text).toMatch(/^DatabaseDirectory \/db$/m);
	expect(text).toMatch(/^LocalSocket \/run\/x\/clamd\.sock$/m);
	expect(text).toMatch(/^StreamMaxLength 1M$/m);
	expect(text).not.toMatch(/\/var\/lib\/clamav|\/etc\/clamav/);
});

test('starts, answers, and stops leaving no process or socket behind', async () => {
	const db = database('good', { 'eicar.hdb': '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n' });
	const clamd = await startClamd({ databaseDir: db });
	const client = clamd.client();
	await client.ping();
	expect(await client.instream(eicarBytes())).toEqual({ verdict: 'found', signature: 'Eicar-Test-Signature', official: false });
	expect(existsSync(clamd.socket)).toBe(true);
	await clamd.stop();
	expect(() => process.kill(clamd.pid, 0)).toThrow(/ESRCH/);
	expect(existsSync(clamd.runDir)).toBe(false);
	await expect(client.ping()).rejects.toThrow(/cannot connect/);
});

test('an empty database: clamd\'s own reason in the error', async () => {
	const db = database('empty', {});
	const err = await startClamd({ databaseDir: db }).catch((e: unknown) => e);
	expect(err).toBeInstanceOf(ClamdStartError);
	expect(String(err)).toMatch(/clamd exited \(status 1\) before answering PING/);
	expect(String(err)).toMatch(/No supported database files found/);
});

test('a malformed signature: clamd\'s own reason, with the file it choked on', async () => {
	const db = database('malformed', { 'bad.hdb': 'this is not md5:size:name\n' });
	const err = await startClamd({ databaseDir: db }).catch((e: unknown) => e);
	expect(err).toBeInstanceOf(ClamdStartError);
	expect(String(err)).toMatch(/Malformed database/);
	expect(String(err)).toMatch(/bad\.hdb/);
});

test('an empty signature file is refused too (a starter must never be left empty)', async () => {
	const db = database('empty-file', { 'lab.hdb': '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n', 'marker.ndb': '' });
	await expect(startClamd({ databaseDir: db })).rejects.toThrow(/Empty database file/);
});
