// The project's databases on the host's clamd: the full one (fixtures/signatures, the solution of
// lesson 3.3) and the base one lessons 3.1 and 3.2 use. Each detects every harmless sample with
// its own signature and nothing clean. Chapter 4 relies on the same samples.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { formatScanResult } from './client.js';
import { startClamd } from './daemon.js';
import { writeEicar } from './eicar.js';
import { SIGNATURES, baseDatabase, buildMarker, signaturesDir, testfiles } from './samples.js';

let work: string;
let eicar: string;
let marker: string;
const CLEAN = ['/bin/true', '/bin/ls', '/usr/sbin/clamd'];

beforeAll(async () => {
	work = mkdtempSync(path.join(os.tmpdir(), 'lab-samples-'));
	eicar = path.join(work, 'eicar.com');
	writeEicar(eicar);
	marker = (await buildMarker()).file;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function verdicts(databaseDir: string, files: string[]): Promise<Record<string, string>> {
	const clamd = await startClamd({ databaseDir });
	try {
		const session = clamd.client().session();
		const results = await Promise.all(files.map((f) => session.scan(f)));
		await session.end();
		return Object.fromEntries(files.map((f, i) => [f, formatScanResult(results[i]!)]));
	} finally {
		await clamd.stop();
	}
}

test('the project database detects EICAR, the marker and all of clamav-testfiles, and no clean program', async () => {
	const all = testfiles();
	expect(all.length).toBeGreaterThan(40);
	const expected: Record<string, string> = { [eicar]: `${SIGNATURES.eicar}.UNOFFICIAL FOUND`, [marker]: `${SIGNATURES.marker}.UNOFFICIAL FOUND` };
	for (const f of all) expected[f] = `${SIGNATURES.testfile}.UNOFFICIAL FOUND`;
	for (const f of CLEAN) expected[f] = 'OK';
	expect(await verdicts(signaturesDir(), Object.keys(expected))).toEqual(expected);
});

test('the base database detects the marker by its hash, without the lesson 3.3 signature', async () => {
	const expected = { [eicar]: `${SIGNATURES.eicar}.UNOFFICIAL FOUND`, [marker]: `${SIGNATURES.markerHash}.UNOFFICIAL FOUND`, [testfiles()[0]!]: `${SIGNATURES.testfile}.UNOFFICIAL FOUND`, '/bin/true': 'OK' };
	expect(await verdicts(await baseDatabase(), Object.keys(expected))).toEqual(expected);
});
