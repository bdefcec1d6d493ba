// Debian's clamd, started in the foreground with a config of our own in a scratch folder: our
// signature database only, a unix socket there, nothing in /etc or /var/lib/clamav touched. On the
// host it is a child of the test process; in a guest it runs from the host root over 9p. Both
// wait until clamd answers PING, and a clamd that gives up (an empty or malformed database) is
// reported with its own words.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Running } from '../guest/guest.js';
import type { LabGuest } from '../guest/lab-guest.js';
import { ClamdClient, type ClamdClientOptions, type ScanResult, parseScanReply } from './client.js';

export interface ClamdConfigOptions {
	/** A folder holding only signature files (.hdb, .ndb, ...). */
	databaseDir: string;
	/** Where the socket, the pid file and clamd's temporary files go. */
	runDir: string;
	/** Also listen on TCP at 127.0.0.1:tcpPort. */
	tcpPort?: number;
	/** More clamd.conf settings, e.g. { StreamMaxLength: '1M', IdleTimeout: 2 }. */
	settings?: Record<string, string | number>;
}

/** The clamd.conf text for these options (Foreground, our database, a socket in runDir). */
export function clamdConfig(o: ClamdConfigOptions): string {
	const settings: Record<string, string | number> = {
		Foreground: 'yes',
		LocalSocket: path.join(o.runDir, 'clamd.sock'),
		LocalSocketMode: '666',
		FixStaleSocket: 'yes',
		DatabaseDirectory: o.databaseDir,
		TemporaryDirectory: o.runDir,
		PidFile: path.join(o.runDir, 'clamd.pid'),
		// no bytecode database exists here, and no point checking the database for updates
		Bytecode: 'no',
		SelfCheck: 0,
		MaxThreads: 4,
		...(o.tcpPort ? { TCPSocket: o.tcpPort, TCPAddr: '127.0.0.1' } : {}),
		...o.settings,
	};
	return Object.entries(settings)
		.map(([k, v]) => `${k} ${v}\n`)
		.join('');
}

/** clamd stopped before it answered PING. The message holds clamd's own error lines. */
export class ClamdStartError extends Error {
	constructor(
		message: string,
		readonly output: string,
	) {
		super(message);
		this.name = 'ClamdStartError';
	}
}

/** The lines of clamd's output that say why it gave up, or its last lines if none does. */
export function clamdComplaint(output: string): string {
	const lines = output.split('\n').filter((l) => l.trim());
	const errors = lines.filter((l) => /error|warning|can't|cannot|failed/i.test(l));
	return (errors.length ? errors : lines.slice(-5)).join('\n');
}

export interface StartClamdOptions {
	databaseDir: string;
	/** Default: a new temporary folder, removed by stop(). */
	runDir?: string;
	tcpPort?: number;
	settings?: Record<string, string | number>;
	/** Run clamd as this user id (clamd then cannot read what that user cannot). */
	uid?: number;
	gid?: number;
	/** Give up waiting for PONG after this long; default 30 s. */
	startTimeoutMs?: number;
}

export interface RunningClamd {
	socket: string;
	tcpPort?: number;
	runDir: string;
	config: string;
	pid: number;
	/** A client for this clamd (its unix socket unless options say otherwise). */
	client(options?: Omit<ClamdClientOptions, 'socket' | 'host' | 'port'>): ClamdClient;
	/** Everything clamd printed so far. */
	output(): string;
	/** SIGTERM, wait for clamd to exit, remove the temporary folder. */
	stop(): Promise<void>;
}

/** Start clamd on the host, as a child of this process, and wait until it answers PING. */
export async function startClamd(options: StartClamdOptions): Promise<RunningClamd> {
	const ownRunDir = !options.runDir;
	const runDir = options.runDir ?? mkdtempSync(path.join(os.tmpdir(), 'lab-clamd-'));
	mkdirSync(runDir, { recursive: true });
	if (options.uid !== undefined) {
		chownSync(runDir, options.uid, options.gid ?? options.uid);
		chmodSync(runDir, 0o755);
	}
	const socket = path.join(runDir, 'clamd.sock');
	const config = path.join(runDir, 'clamd.conf');
	writeFileSync(config, clamdConfig({ databaseDir: options.databaseDir, runDir, tcpPort: options.tcpPort, settings: options.settings }));

	// setpriv --pdeathsig: clamd gets SIGTERM if this process dies first, so no test leaves one behind
	const child: ChildProcess = spawn('setpriv', ['--pdeathsig', 'TERM', '--', 'clamd', '-c', config], {
		stdio: ['ignore', 'pipe', 'pipe'],
		uid: options.uid,
		gid: options.gid ?? options.uid,
	});
	const chunks: string[] = [];
	child.stdout!.on('data', (d: Buffer) => chunks.push(d.toString()));
	child.stderr!.on('data', (d: Buffer) => chunks.push(d.toString()));
	const output = () => chunks.join('');
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
		child.once('exit', (code, signal) => resolve({ code, signal }));
		child.once('error', (error) => resolve({ code: null, signal: null, error }));
	});
	const cleanup = () => {
		if (ownRunDir) rmSync(runDir, { recursive: true, force: true });
	};
	const stop = async () => {
		if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
		const late = setTimeout(() => child.kill('SIGKILL'), 5_000);
		await exited;
		clearTimeout(late);
		cleanup();
	};

	const limit = options.startTimeoutMs ?? 30_000;
	const probe = new ClamdClient({ socket, timeoutMs: 1_000 });
	const deadline = performance.now() + limit;
	let stopped: Awaited<typeof exited> | undefined;
	void exited.then((e) => (stopped = e));
	for (;;) {
		if (stopped) {
			cleanup();
			const how = stopped.error ? `could not run clamd: ${stopped.error.message}` : `clamd exited (${stopped.signal ?? `status ${stopped.code}`}) before answering PING`;
			throw new ClamdStartError(`${how}; database ${options.databaseDir}:\n${clamdComplaint(output())}`, output());
		}
		try {
			await probe.ping();
			break;
		} catch {
			// the socket appears only once the database is loaded
		}
		if (performance.now() > deadline) {
			await stop();
			throw new ClamdStartError(`clamd did not answer PING within ${limit} ms; its output:\n${clamdComplaint(output())}`, output());
		}
		await new Promise((r) => setTimeout(r, 10));
	}
	return {
		socket,
		tcpPort: options.tcpPort,
		runDir,
		config,
		pid: child.pid!,
		client: (o = {}) => new ClamdClient({ ...o, socket }),
		output,
		stop,
	};
}

export interface GuestClamdOptions {
	/** A folder on the host holding only signature files; they are copied into the guest. */
	databaseDir: string;
	/** Folder in the guest for config, database copy and socket; default /run/lab-clamd. */
	runDir?: string;
	settings?: Record<string, string | number>;
	/** Give up waiting for PONG after this long under TCG; default 30 s. */
	startTimeoutMs?: number;
}

export interface GuestClamd {
	/** The socket's path inside the guest. */
	socket: string;
	config: string;
	runDir: string;
	/** clamd's process in the guest. */
	process: Running;
	/**
	 * clamd's verdict on each of these guest files (clamdscan, one connection per file); a path
	 * clamdscan printed no line for maps to undefined.
	 */
	scan(paths: string[]): Promise<Record<string, ScanResult | undefined>>;
	/** SIGTERM and wait until clamd has exited. */
	stop(): Promise<void>;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Start clamd inside a guest that has the host root mounted (vm.guest({ hostRoot: true })), and
 * wait until it answers PING. Returns the socket path in the guest.
 */
export async function startClamdInGuest(guest: LabGuest, options: GuestClamdOptions): Promise<GuestClamd> {
	const runDir = options.runDir ?? '/run/lab-clamd';
	const dbDir = `${runDir}/db`;
	const socket = `${runDir}/clamd.sock`;
	const config = `${runDir}/clamd.conf`;
	// 9p may serve a stale copy of a rewritten host file: upload the database instead of sharing it
	const files = readdirSync(options.databaseDir).filter((f) => statSync(path.join(options.databaseDir, f)).isFile());
	const mk = await guest.run(`rm -rf ${shellQuote(runDir)} && mkdir -p ${shellQuote(dbDir)}`);
	if (mk.status !== 0) throw new Error(`cannot prepare ${runDir} in the guest: ${mk.output}`);
	for (const f of files) await guest.upload(path.join(options.databaseDir, f), `${dbDir}/${f}`);
	await guest.put(config, clamdConfig({ databaseDir: dbDir, runDir, settings: options.settings }));

	const clamd = guest.spawn(`exec clamd -c ${shellQuote(config)}`, { timeoutMs: Infinity });
	const limit = guest.ms(options.startTimeoutMs ?? 30_000);
	// the socket appears once the database is loaded; then one PING proves clamd serves
	const ready = guest.run(
		`while [ ! -S ${shellQuote(socket)} ]; do sleep 0.02; done; exec clamdscan --no-summary -c ${shellQuote(config)} --ping 1`,
		{ timeoutMs: limit },
	);
	const outcome = await Promise.race([
		ready.then((r) => ({ kind: 'ready' as const, r }), (e: Error) => ({ kind: 'late' as const, e })),
		clamd.result.then((r) => ({ kind: 'exited' as const, r }), (e: Error) => ({ kind: 'died' as const, e })),
	]);
	if (outcome.kind === 'exited') {
		throw new ClamdStartError(`clamd exited (status ${outcome.r.status}) in the guest before answering PING; database ${options.databaseDir}:\n${clamdComplaint(outcome.r.output)}`, outcome.r.output);
	}
	if (outcome.kind === 'died') throw outcome.e;
	if (outcome.kind === 'late' || outcome.r.status !== 0) {
		clamd.kill(9);
		const why = outcome.kind === 'late' ? outcome.e.message : `clamdscan --ping: ${outcome.r.output}`;
		throw new ClamdStartError(`clamd did not answer PING in the guest within ${limit} ms (${why}); its output:\n${clamdComplaint(clamd.output())}`, clamd.output());
	}
	return {
		socket,
		config,
		runDir,
		process: clamd,
		scan: async (paths) => {
			const r = await guest.run(`clamdscan --no-summary -c ${shellQuote(config)} -- ${paths.map(shellQuote).join(' ')}`);
			const lines = r.stdout.split('\n');
			return Object.fromEntries(
				paths.map((p) => {
					const line = lines.find((l) => l.startsWith(`${p}: `));
					return [p, line === undefined ? undefined : parseScanReply(line, p)];
				}),
			);
		},
		stop: async () => {
			clamd.kill(15);
			await clamd.result.catch(() => {});
		},
	};
}
