// The harness's temporary folders: a run's saved guest state (lab-run-*) and each guest's
// sockets (lab-guest-*). Each holds an "owner" file with the pid of the process that made it.
// The owner removes its folders when it exits, also by Ctrl-C (SIGINT), SIGTERM or SIGHUP. A
// process killed by SIGKILL cannot: the next run's global setup removes every folder whose owner
// is gone, so they do not pile up in /tmp.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PREFIXES = ['lab-run-', 'lab-guest-'] as const;
const OWNER = 'owner';

/** The folders this process made; removing one that is gone already costs nothing. */
const owned = new Set<string>();

function removeOwned(): void {
	for (const dir of owned) rmSync(dir, { recursive: true, force: true });
	owned.clear();
}

let removedOnExit = false;
function removeOnExit(): void {
	if (removedOnExit) return;
	removedOnExit = true;
	process.once('exit', removeOwned);
	for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
		process.once(signal, () => {
			removeOwned();
			// then what the signal would have done had nobody listened: end the process by it
			// (unless another listener, such as watch mode's, handles it)
			if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
		});
	}
}

/** A new temporary folder that names this process as its owner, removed when the process ends. */
export function ownedTempDir(prefix: (typeof PREFIXES)[number]): string {
	const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
	writeFileSync(path.join(dir, OWNER), `${process.pid}\n`);
	owned.add(dir);
	removeOnExit();
	return dir;
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (e) {
		return (e as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Remove the harness's folders whose owner has exited; returns them. */
export function sweepAbandoned(): string[] {
	const removed: string[] = [];
	for (const name of readdirSync(os.tmpdir())) {
		if (!PREFIXES.some((p) => name.startsWith(p))) continue;
		const dir = path.join(os.tmpdir(), name);
		let owner: number;
		try {
			owner = Number(readFileSync(path.join(dir, OWNER), 'utf8'));
		} catch {
			continue; // just made (no owner yet), or not the harness's
		}
		// a live owner, or a reused pid: leave it
		if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
		rmSync(dir, { recursive: true, force: true });
		removed.push(dir);
	}
	return removed;
}
