// Builds what the lessons run: kernel modules out of tree with Kbuild against the guest kernel's
// headers, and user programs with gcc -Wall -Wextra. Outputs are cached by the hash of their
// sources, so a spec pays for a build only when a source changed; a failed build throws with the
// compiler's own words.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cachePath, repoRoot, sourceRoot } from './paths.js';

const run = promisify(execFile);

export class BuildError extends Error {
	constructor(
		readonly what: string,
		readonly log: string,
	) {
		super(`${what} did not build:\n${log.trim()}`);
		this.name = 'BuildError';
	}
}

export interface Built {
	/** The .ko or the executable. */
	file: string;
	/** Compiler warnings, one per "warning:" line (empty when clean). */
	warnings: string[];
	log: string;
}

const SOURCE = /\.(c|h|S)$|^(Kbuild|Makefile)$/;

function sourceFiles(dir: string): string[] {
	if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`no such source folder: ${path.relative(repoRoot, dir) || dir}`);
	return readdirSync(dir)
		.filter((f) => SOURCE.test(f))
		.sort();
}

function hashOf(dir: string, files: string[], extra: string[]): string {
	const h = createHash('sha256');
	for (const f of files) h.update(f).update('\0').update(readFileSync(path.join(dir, f))).update('\0');
	for (const e of extra) h.update(e).update('\0');
	return h.digest('hex').slice(0, 16);
}

const warningsIn = (log: string) => log.split('\n').filter((l) => /\bwarning:/.test(l));

/**
 * The compiler's words about the sources where the student edits them: the build runs in a
 * scratch copy (Kbuild names it by its full path, gcc by the bare file name), so both become
 * the source folder's path in the course, e.g. kernel/hello/hello.c:14:9.
 */
export function inSourceTerms(log: string, scratch: string, dir: string): string {
	const inside = (root: string) => (dir === root || dir.startsWith(`${root}/`) ? path.relative(root, dir) : undefined);
	const shown = inside(sourceRoot) || inside(repoRoot) || dir;
	const bare = /^(?=[\w.+-]+\.[chS]:)/gm;
	return log.split(`${scratch}/`).join(`${shown}/`).replace(bare, `${shown}/`);
}

/** A build of a folder not used for this long goes: every edit of a source leaves one behind. */
const UNUSED_MS = 7 * 24 * 3600_000;

function pruneUnused(parent: string, name: string): void {
	const ours = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]{16}$`);
	for (const entry of readdirSync(parent)) {
		const dir = path.join(parent, entry);
		if (ours.test(entry) && Date.now() - statSync(dir).mtimeMs > UNUSED_MS) rmSync(dir, { recursive: true, force: true });
	}
}

/** Build, or reuse, the output named `output` of the sources in `dir`; `make` builds in a scratch copy. */
async function cached(kind: string, dir: string, extra: string[], output: string, make: (scratch: string) => Promise<string>): Promise<Built> {
	const files = sourceFiles(dir);
	const key = hashOf(dir, files, extra);
	const outDir = cachePath('build', kind, `${path.basename(dir)}-${key}`, '.');
	const file = path.join(outDir, output);
	const logFile = path.join(outDir, 'build.log');
	if (existsSync(file) && existsSync(logFile)) {
		const log = readFileSync(logFile, 'utf8');
		const now = new Date();
		utimesSync(outDir, now, now); // in use: pruneUnused() keeps it
		return { file, warnings: warningsIn(log), log };
	}
	pruneUnused(path.dirname(outDir), path.basename(dir));
	const scratch = mkdtempSync(path.join(path.dirname(outDir), `.${path.basename(dir)}-`));
	try {
		for (const f of files) cpSync(path.join(dir, f), path.join(scratch, f));
		let log: string;
		try {
			log = inSourceTerms(await make(scratch), scratch, dir);
		} catch (e) {
			if (e instanceof BuildError) throw new BuildError(e.what, inSourceTerms(e.log, scratch, dir));
			throw e;
		}
		writeFileSync(path.join(scratch, 'build.log'), log);
		try {
			renameSync(scratch, outDir); // atomic: parallel workers never see half a build
		} catch (e) {
			if (!existsSync(file)) throw e; // else another worker finished the same build first
		}
		return { file, warnings: warningsIn(log), log };
	} finally {
		rmSync(scratch, { recursive: true, force: true });
	}
}

async function tool(what: string, cmd: string, args: string[], cwd: string): Promise<string> {
	try {
		const r = await run(cmd, args, { cwd, maxBuffer: 16 << 20 });
		return r.stdout + r.stderr;
	} catch (e) {
		const err = e as { stdout?: string; stderr?: string; message: string };
		throw new BuildError(what, (err.stdout ?? '') + (err.stderr ?? '') || err.message);
	}
}

/**
 * Build the module in `dir` (a folder with a Kbuild file and its sources) for `kernelBuildDir`.
 * The module is named after its folder.
 */
export function buildModule(dir: string, kernelBuildDir: string): Promise<Built> {
	const name = path.basename(dir);
	const what = `kernel module ${path.relative(repoRoot, dir)}`;
	const kernelId = readFileSync(path.join(kernelBuildDir, 'include', 'config', 'kernel.release'), 'utf8').trim();
	return cached('modules', dir, [kernelId], `${name}.ko`, (scratch) =>
		tool(what, 'make', ['-s', '-C', kernelBuildDir, `M=${scratch}`, 'modules'], scratch),
	);
}

export interface ProgramOptions {
	/** Link statically: runs in the bare initramfs guest. Dynamic programs need the host root. */
	static?: boolean;
	/** Extra compiler flags before the sources, e.g. -O0 (the default is -O2 -g). */
	cflags?: string[];
	/** Extra gcc arguments after the sources, e.g. libraries (-lclamav). */
	flags?: string[];
}

/** Build the C program in `dir` (all its .c files) into an executable named after the folder. */
export function buildProgram(dir: string, options: ProgramOptions = {}): Promise<Built> {
	const name = path.basename(dir);
	const flags = ['-O2', '-g', '-Wall', '-Wextra', ...(options.static ? ['-static'] : []), ...(options.cflags ?? [])];
	const libs = options.flags ?? [];
	return cached('programs', dir, [...flags, ...libs], name, async (scratch) => {
		const sources = readdirSync(scratch).filter((f) => f.endsWith('.c'));
		// libraries after the sources, or the linker drops them
		return tool(`program ${path.relative(repoRoot, dir)}`, 'gcc', [...flags, '-o', name, ...sources, ...libs], scratch);
	});
}
