// The harmless samples and the signature databases the chapter's lessons use. The samples are
// built or made at run time; only their signatures live in fixtures/signatures.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Built, buildProgram, type ProgramOptions } from '../guest/build.js';
import { cachePath, sourceRoot } from '../guest/paths.js';

/** Where the project's signature files are (the student writes marker.ndb in lesson 3.3). */
export const signaturesDir = () => path.join(sourceRoot, 'fixtures', 'signatures');
export const markerSourceDir = () => path.join(sourceRoot, 'fixtures', 'samples', 'marker');
/** The clamav-testfiles package: 44 harmless files in many formats, all carrying ClamAV's test virus. */
export const TESTFILES_DIR = '/usr/share/clamav-testfiles';

/** Signature names the project's database reports (clamd appends ".UNOFFICIAL"). */
export const SIGNATURES = {
	eicar: 'Eicar-Test-Signature',
	testfile: 'ClamAV-Test-File',
	/** The student's .ndb signature of the marker (lesson 3.3). */
	marker: 'Unix.Test.Marker',
	/** A hash signature of the marker as built now, for lessons that must not depend on 3.3. */
	markerHash: 'Unix.Test.Marker-Hash',
} as const;

/** Build the marker program; static by default, so it runs in the bare guest too. */
export function buildMarker(options: ProgramOptions = { static: true }): Promise<Built> {
	return buildProgram(markerSourceDir(), options);
}

/** Every file of clamav-testfiles, as absolute paths. */
export function testfiles(): string[] {
	return readdirSync(TESTFILES_DIR)
		.map((f) => path.join(TESTFILES_DIR, f))
		.filter((f) => statSync(f).isFile())
		.sort();
}

/** An .hdb line (md5:size:name) for a file, as `sigtool --md5` prints it. */
export function hdbLine(file: string, name: string): string {
	const data = readFileSync(file);
	return `${createHash('md5').update(data).digest('hex')}:${data.length}:${name}`;
}

/**
 * A database folder holding these files (name -> text), in the cache and named by their content,
 * so it needs no cleanup and a changed database gets a new folder.
 */
export function databaseOf(files: Record<string, string>): string {
	const h = createHash('sha256');
	for (const [name, text] of Object.entries(files).sort()) h.update(name).update('\0').update(text).update('\0');
	const dir = cachePath('clamav', `db-${h.digest('hex').slice(0, 16)}`);
	if (existsSync(dir)) return dir;
	const scratch = `${dir}.${process.pid}`;
	rmSync(scratch, { recursive: true, force: true });
	mkdirSync(scratch, { recursive: true });
	for (const [name, text] of Object.entries(files)) writeFileSync(path.join(scratch, name), text);
	try {
		renameSync(scratch, dir);
	} catch (e) {
		rmSync(scratch, { recursive: true, force: true });
		if (!existsSync(dir)) throw e; // else another worker made the same one
	}
	return dir;
}

/**
 * The project's base database: EICAR and clamav-testfiles (lab.hdb) plus a hash signature of the
 * marker as built now. Lessons 3.1 and 3.2 use it, so they pass before the student's 3.3.
 */
export async function baseDatabase(): Promise<string> {
	const marker = await buildMarker();
	return databaseOf({
		'lab.hdb': readFileSync(path.join(signaturesDir(), 'lab.hdb'), 'utf8'),
		'marker-hash.hdb': `${hdbLine(marker.file, SIGNATURES.markerHash)}\n`,
	});
}
