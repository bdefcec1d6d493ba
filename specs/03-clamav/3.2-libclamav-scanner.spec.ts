import path from 'node:path';
import { expect } from 'vitest';
import { buildProgram } from '../../guest/build.js';
import { lesson } from '../../guest/lesson.js';
import { sourceRoot } from '../../guest/paths.js';
import { formatScanResult, parseScanReply } from '../../clamav/client.js';
import { startClamdInGuest } from '../../clamav/daemon.js';
import { putEicar } from '../../clamav/eicar.js';
import { TESTFILES_DIR, baseDatabase, buildMarker } from '../../clamav/samples.js';

const SAMPLES = '/tmp/samples';
// one of each kind (plain PE, archives, a document, a packed PE): lesson 3.3 scans all 44
const TESTFILES = ['clam.exe', 'clam.zip', 'clam.tar.gz', 'clam.pdf', 'clam.ole.doc', 'clam-upx.exe'];

/** The verdict line of each path in `output` ("PATH: OK", "PATH: NAME FOUND"). */
function verdicts(output: string, paths: string[]): Record<string, string | undefined> {
	const lines = output.split('\n');
	return Object.fromEntries(
		paths.map((p) => {
			const line = lines.find((l) => l.startsWith(`${p}: `));
			return [p, line === undefined ? undefined : formatScanResult(parseScanReply(line, p))];
		}),
	);
}

lesson(
	{
		id: '3.2',
		title: { en: 'The libclamav API: a scanner in C that agrees with clamd', ja: 'libclamav の API: clamd と同じ判定をする C のスキャナ' },
		hint: {
			en: 'clamav/scanner/scanner.c: in load_engine() call cl_init(CL_INIT_DEFAULT), engine = cl_engine_new(), cl_load(database, engine, &signatures, CL_DB_STDOPT) and cl_engine_compile(engine), stopping at the first call that fails with its code in ret. In scan_one() zero a struct cl_scan_options, set parse = ~0 and general = CL_SCAN_GENERAL_HEURISTICS, and set ret = cl_scanfile(path, &virname, &scanned, engine, &options). The template prints the verdicts and exits 0, 1 or 2 from what ret says.',
			ja: 'clamav/scanner/scanner.c: load_engine() で cl_init(CL_INIT_DEFAULT)、engine = cl_engine_new()、cl_load(database, engine, &signatures, CL_DB_STDOPT)、cl_engine_compile(engine) を呼び、最初に失敗した呼び出しの戻り値を ret に入れて止めてください。scan_one() では struct cl_scan_options を 0 で埋め、parse = ~0、general = CL_SCAN_GENERAL_HEURISTICS として、ret = cl_scanfile(path, &virname, &scanned, engine, &options) とします。判定の表示と終了コード 0・1・2 はテンプレートが ret から決めます。',
		},
		files: ['clamav/scanner/scanner.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest({ hostRoot: true });
		const [database, marker, build] = await Promise.all([
			baseDatabase(),
			buildMarker(),
			buildProgram(path.join(sourceRoot, 'clamav', 'scanner'), { flags: ['-lclamav'] }),
		]);
		const clamd = await startClamdInGuest(guest, { databaseDir: database });
		const db = `${clamd.runDir}/db`; // the same signature files clamd loaded
		const scanner = '/tmp/lab/scanner';
		await guest.upload(build.file, scanner);

		await guest.run(`mkdir -p ${SAMPLES} && echo 'meeting at noon' > ${SAMPLES}/notes.txt && cp /bin/true ${SAMPLES}/true && cp ${TESTFILES.map((f) => path.join(TESTFILES_DIR, f)).join(' ')} ${SAMPLES}/`);
		await putEicar(guest, `${SAMPLES}/eicar.com`);
		await guest.upload(marker.file, `${SAMPLES}/marker`);
		const clean = ['notes.txt', 'true'].map((f) => `${SAMPLES}/${f}`);
		const infected = ['eicar.com', 'marker', ...TESTFILES].map((f) => `${SAMPLES}/${f}`);
		const all = [...clean, ...infected];

		// clamd's verdicts on the same files, with the same signatures
		const reference = Object.fromEntries(Object.entries(await clamd.scan(all)).map(([p, r]) => [p, r && formatScanResult(r)]));
		expect(Object.values(reference).filter((v) => v?.endsWith('FOUND')).length, 'clamd itself should find the infected samples').toBe(infected.length);

		const mixed = await guest.run(`${scanner} ${db} ${all.join(' ')}`);
		expect(verdicts(mixed.stdout, all), `the scanner should report every file as clamd does; it printed:\n${mixed.output}`).toEqual(reference);
		expect(mixed.status, 'exit status with something found').toBe(1);

		const onlyClean = await guest.run(`${scanner} ${db} ${clean.join(' ')}`);
		expect(onlyClean.status, `exit status when all files are clean: ${onlyClean.output}`).toBe(0);

		// a file that cannot be scanned: a message naming it, the others still reported, exit 2
		const missing = `${SAMPLES}/no-such-file`;
		const withMissing = await guest.run(`${scanner} ${db} ${clean[0]} ${missing} ${infected[0]}`);
		expect(withMissing.stderr, 'a missing file should be reported on stderr, by name').toContain(missing);
		expect(verdicts(withMissing.stdout, [clean[0]!, infected[0]!]), 'the files around the missing one are still scanned').toEqual({ [clean[0]!]: 'OK', [infected[0]!]: reference[infected[0]!] });
		expect(withMissing.stdout, 'no verdict is printed for a file that was not scanned').not.toContain(`${missing}: `);
		expect(withMissing.status, 'exit status when a file could not be scanned').toBe(2);

		// a database that does not load: the scanner's own message with libclamav's reason, exit 2
		await guest.put('/tmp/bad-db/bad.hdb', 'this is not md5:size:name\n');
		const bad = await guest.run(`${scanner} /tmp/bad-db ${clean[0]}`);
		const own = bad.stderr.split('\n').filter((l) => !l.startsWith('LibClamAV'));
		expect(own.join('\n'), `the scanner should say why the database did not load (libclamav's own lines do not count); stderr was:\n${bad.stderr}`).toMatch(/Malformed database/);
		expect(bad.stdout, 'no verdicts without a database').toBe('');
		expect(bad.status, 'exit status when the database does not load').toBe(2);

		expect(build.warnings, 'gcc -Wall -Wextra should print no warnings').toEqual([]);
	},
);
