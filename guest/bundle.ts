// TypeScript that runs inside the guest (on the host's node, over the 9p host root): bundled with
// esbuild into one ES module for Node 20, named by its content. The guest reads the host root
// with cache=loose, so a changed program must get a new file name, never a rewrite in place.
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { BuildError } from './build.js';
import { cachePath, repoRoot } from './paths.js';

/** Bundle `entry` (a .ts file) and return the bundle's host path, also its path in the guest. */
export async function bundleForGuest(entry: string): Promise<string> {
	const name = path.basename(entry, path.extname(entry));
	let result: Awaited<ReturnType<typeof build>>;
	try {
		result = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', write: false, logLevel: 'silent' });
	} catch (e) {
		const errors = (e as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
		const log = errors.map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`).join('\n');
		throw new BuildError(path.relative(repoRoot, entry), log || (e as Error).message);
	}
	const code = result.outputFiles![0]!.contents;
	const file = cachePath('bundles', `${name}-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
	if (!existsSync(file)) {
		const scratch = `${file}.${process.pid}`;
		writeFileSync(scratch, code);
		renameSync(scratch, file); // atomic: a parallel worker never reads half a bundle
	}
	return file;
}
