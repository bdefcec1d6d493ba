// The bench's own guest programs (bench/guest/), built like the lessons' with guest/build.ts.
import path from 'node:path';
import { type Built, buildProgram } from '../guest/build.js';
import { progress, repoRoot } from '../guest/paths.js';

const dir = (name: string) => path.join(repoRoot, 'bench', 'guest', name);

function reportWarnings(built: Built): Built {
	for (const w of built.warnings) progress(`bench program warning: ${w}`);
	return built;
}

/** The guest-side timing loop. */
export async function buildExecloop(): Promise<Built> {
	return reportWarnings(await buildProgram(dir('execloop'), { static: true }));
}

/** The program the loops execute: no C library, the smallest exec there is (~10 KB, one page of code). */
export async function buildExitWith(): Promise<Built> {
	return reportWarnings(await buildProgram(dir('exit-with'), { static: true, cflags: ['-nostdlib', '-fno-stack-protector'] }));
}
