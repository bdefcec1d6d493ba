// Group 5, the chapter 3 clamd client on the host: scans per second for SCAN on a new
// connection, SCAN in an IDSESSION (one after another, and all at once as the relay may issue
// them), and INSTREAM, against clamdscan on the same files, one process per file and one
// process for them all. clamd runs with DisableCache, so every scan of every method reads and
// matches the whole file: the methods differ only by how they reach clamd.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ClamdClient, ScanResult } from '../clamav/client.js';
import { startClamd } from '../clamav/daemon.js';
import { baseDatabase } from '../clamav/samples.js';
import type { Figure, Recorder } from './figures.js';
import { buildExitWith } from './programs.js';

const GROUP = 'clamd';
const FILES = 100;
const run = promisify(execFile);

function expectClean(results: ScanResult[], what: string): void {
	const other = results.find((r) => r.verdict !== 'clean');
	if (other) throw new Error(`${what}: clamd answered ${JSON.stringify(other)} for a clean file`);
}

/** Scans per second of `scanAll` over the files, `runs` times. */
function scansPerSecond(rec: Recorder, name: string, runs: number, files: string[], scanAll: () => Promise<void>, note?: string): Promise<Figure> {
	return rec.measure(
		GROUP,
		name,
		'scans/s',
		runs,
		async () => {
			const t0 = performance.now();
			await scanAll();
			return files.length / ((performance.now() - t0) / 1000);
		},
		note,
	);
}

export async function clamdFigures(rec: Recorder, runs: number): Promise<void> {
	const program = await buildExitWith();
	const bytes = readFileSync(program.file);
	const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-bench-clamd-'));
	const clamd = await startClamd({ databaseDir: await baseDatabase(), settings: { DisableCache: 'yes' } });
	try {
		// distinct files of the same size: a small static ELF with its number appended
		const files = Array.from({ length: FILES }, (_, i) => {
			const file = path.join(dir, `program-${String(i).padStart(3, '0')}`);
			writeFileSync(file, Buffer.concat([bytes, Buffer.from(`\n${i}\n`)]));
			return file;
		});
		const fileNote = `${FILES} distinct ${bytes.length}-byte ELF files per run`;
		const client: ClamdClient = clamd.client({ timeoutMs: 10_000 });
		expectClean(await Promise.all(files.map((f) => client.scan(f))), 'warm-up');

		const scanNew = await scansPerSecond(rec, 'client SCAN, new connection each', runs, files, async () => {
			const results: ScanResult[] = [];
			for (const f of files) results.push(await client.scan(f));
			expectClean(results, 'SCAN');
		}, fileNote);
		const session = await scansPerSecond(rec, 'client SCAN in one IDSESSION, one after another', runs, files, async () => {
			const s = client.session();
			const results: ScanResult[] = [];
			for (const f of files) results.push(await s.scan(f));
			await s.end();
			expectClean(results, 'IDSESSION SCAN');
		});
		const pipelined = await scansPerSecond(rec, 'client SCAN in one IDSESSION, all at once', runs, files, async () => {
			const s = client.session();
			const results = await Promise.all(files.map((f) => s.scan(f)));
			await s.end();
			expectClean(results, 'pipelined IDSESSION SCAN');
		}, 'clamd works on them with its MaxThreads 4');
		const instream = await scansPerSecond(rec, 'client INSTREAM, new connection each', runs, files, async () => {
			const results: ScanResult[] = [];
			for (const f of files) results.push(await client.instream(f));
			expectClean(results, 'INSTREAM');
		});
		const clamdscanEach = await scansPerSecond(rec, 'clamdscan, one process per file', runs, files, async () => {
			for (const f of files) await run('clamdscan', ['--no-summary', '-c', clamd.config, f]);
		});
		const clamdscanAll = await scansPerSecond(rec, 'clamdscan, one process for all files', runs, files, async () => {
			await run('clamdscan', ['--no-summary', '-c', clamd.config, ...files], { maxBuffer: 16 << 20 });
		});

		for (const [label, f] of [
			['SCAN new connection', scanNew],
			['SCAN IDSESSION one after another', session],
			['SCAN IDSESSION all at once', pipelined],
			['INSTREAM', instream],
		] as const) {
			rec.ratio(GROUP, `${label} / clamdscan per file`, f, clamdscanEach);
			rec.ratio(GROUP, `${label} / clamdscan all files`, f, clamdscanAll);
		}
	} finally {
		await clamd.stop();
		rmSync(dir, { recursive: true, force: true });
	}
}
