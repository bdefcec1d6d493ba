import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import { formatScanResult } from '../../clamav/client.js';
import { ClamdStartError, startClamdInGuest } from '../../clamav/daemon.js';
import { putEicar } from '../../clamav/eicar.js';
import { SIGNATURES, buildMarker, markerSourceDir, signaturesDir, testfiles } from '../../clamav/samples.js';

const SAMPLES = '/tmp/samples';
/** Programs that must stay clean: a signature matching them would block real work. */
const CLEAN_PROGRAMS = ['/bin/true', '/bin/ls', '/bin/sh', '/usr/bin/clamdscan', '/usr/sbin/clamd', '/usr/bin/clamfs'];

lesson(
	{
		id: '3.3',
		title: {
			en: 'Harmless samples: the project\'s database detects EICAR, clamav-testfiles and the marker program (your .ndb signature), and no clean file',
			ja: '無害な検体: プロジェクトのデータベースが EICAR・clamav-testfiles・マーカープログラム（自分で書く .ndb 署名）を検出し、正常なファイルは検出しない',
		},
		hint: {
			en: 'fixtures/signatures/marker.ndb: write one line Name:TargetType:Offset:HexSignature, i.e. Unix.Test.Marker:6:*:<hex>, where 6 means ELF files only, * any offset, and <hex> is the marker string of fixtures/samples/marker/marker.c in hexadecimal (printf %s "..." | xxd -p). A hash signature (.hdb, sigtool --md5) would miss a rebuilt program; target 0 (any file) would also flag the C source.',
			ja: 'fixtures/signatures/marker.ndb: Name:TargetType:Offset:HexSignature の 1 行、つまり Unix.Test.Marker:6:*:<hex> を書きます。6 は ELF ファイルだけ、* は任意のオフセット、<hex> は fixtures/samples/marker/marker.c のマーカー文字列の 16 進表記です（printf %s "..." | xxd -p）。ハッシュ署名（.hdb、sigtool --md5）では再ビルドしたプログラムを見逃し、ターゲット 0（全ファイル）では C のソースまで検出してしまいます。',
		},
		files: ['fixtures/signatures/marker.ndb'],
	},
	async ({ vm }) => {
		const source = readFileSync(path.join(markerSourceDir(), 'marker.c'), 'utf8');
		const markerText = /marker\[\] = "([^"]+)"/.exec(source)?.[1];
		if (!markerText) throw new Error('fixtures/samples/marker/marker.c no longer defines the marker string this spec looks for');

		const guest = await vm.guest({ hostRoot: true });
		const [optimised, unoptimised] = await Promise.all([
			buildMarker({ static: true }),
			buildMarker({ cflags: ['-O0'] }), // another compiler output, dynamically linked
		]);
		// the project's whole database, your marker.ndb included
		const clamd = await startClamdInGuest(guest, { databaseDir: signaturesDir() }).catch((e: unknown) => {
			if (e instanceof ClamdStartError) expect.fail(`clamd refused the database in fixtures/signatures:\n${e.message}`);
			throw e;
		});

		await guest.run(`mkdir -p ${SAMPLES}`);
		await putEicar(guest, `${SAMPLES}/eicar.com`);
		await guest.upload(optimised.file, `${SAMPLES}/marker`);
		await guest.upload(unoptimised.file, `${SAMPLES}/marker-O0`);
		// the same program with bytes appended: another hash, the same content
		await guest.run(`cat ${SAMPLES}/marker > ${SAMPLES}/marker-padded && head -c 4096 /dev/urandom >> ${SAMPLES}/marker-padded`);
		await guest.upload(path.join(markerSourceDir(), 'marker.c'), `${SAMPLES}/marker.c`);
		await guest.put(`${SAMPLES}/marker.txt`, `${markerText}\n`);

		const found = (name: string) => `${name}.UNOFFICIAL FOUND`;
		const expected: Record<string, string> = {
			[`${SAMPLES}/eicar.com`]: found(SIGNATURES.eicar),
			[`${SAMPLES}/marker`]: found(SIGNATURES.marker),
			[`${SAMPLES}/marker-O0`]: found(SIGNATURES.marker),
			[`${SAMPLES}/marker-padded`]: found(SIGNATURES.marker),
			// the marker text outside an ELF file is no program
			[`${SAMPLES}/marker.c`]: 'OK',
			[`${SAMPLES}/marker.txt`]: 'OK',
		};
		const all = testfiles();
		expect(all.length, 'clamav-testfiles should be installed').toBeGreaterThan(40);
		for (const f of all) expected[f] = found(SIGNATURES.testfile);
		for (const f of CLEAN_PROGRAMS) expected[f] = 'OK';

		const results = await clamd.scan(Object.keys(expected));
		const said = (f: string) => (results[f] ? formatScanResult(results[f]) : 'nothing');
		const wrong = Object.entries(expected)
			.filter(([f, want]) => said(f) !== want)
			.map(([f, want]) => `${f}: expected "${want}", clamd said "${said(f)}"`);
		expect(wrong, 'every sample detected with its signature, every clean file clean').toEqual([]);
	},
);
