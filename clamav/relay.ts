// The relay (lesson 4.5): the user-space half of execgate. It reads the module's queries from
// /dev/execgate, asks clamd about each file through the chapter 3 client, and answers allow or
// deny. It runs inside the guest on the host's node, bundled into one file (node 20 cannot run
// TypeScript):
//
//   node relay.mjs --clamd /run/lab-clamd/clamd.sock [--device /dev/execgate] [--on-error deny]
//                  [--max-scans 4] [--scan-timeout-ms 3000] [--cache-size 4096] [--delay-ms 0]
//
// The device protocol (the module's main.c has the full text):
//   read   one query per read(): "Q <serial> <pid> <fd> <path>\n", the path as lowercase hex
//          ("-" when the file has no usable name), fd a descriptor of the executed file handed
//          to us (pass_fd=1) or -1
//   write  one answer per write(): "A <serial> allow\n" or "A <serial> deny\n"; ENOENT means
//          the exec no longer waits (it timed out or was killed)
//   write  "BYE\n" when leaving: no more queries come, and the blocked read() returns 0
//
// Decisions:
//   - clamd scans the file: by path (SCAN in one IDSESSION) when the path is valid UTF-8, else
//     (a path clamd's text protocol cannot carry, or a descriptor from pass_fd) by streaming its
//     bytes (INSTREAM). Clean: allow. Found: deny.
//   - clamd unreachable, too slow (--scan-timeout-ms), or reporting an error: --on-error
//     decides (deny by default: a scanner that cannot scan must not let everything through).
//   - A path names the file from the exec-ing process's root: for a chrooted process the relay
//     looks it up under /proc/<pid>/root, so the scan sees the file the exec runs.
//   - A path ending in " (deleted)" without a descriptor: --on-error decides. d_path() names an
//     unlinked file so, and that name may lead to another file (a clean decoy put there) or none.
//   - Verdicts are cached by the file's identity: device, inode, size, mtime and ctime (mtime can
//     be set back with utimes(), ctime cannot), so running a program again does not rescan it.
//     Concurrent queries for the same file share one scan.
//   - At most --max-scans scans at once; the rest wait their turn (clamd's threads and backlog
//     are limited, and the kernel waits for every answer).
//   - One log line per decision on stdout: "decision serial=... pid=... fd=... answer=allow|deny
//     verdict=clean|found|error signature=... cached=yes|no ms=... path=..." (fd: the descriptor
//     the module handed over, -1 for none).
//   - SIGTERM (or SIGINT): BYE, finish the decisions already read, end the clamd session, exit 0.
//
// The relay never executes anything: its own children would be exempt from the hook anyway, but
// asking clamd through its socket keeps every scan out of the exec path.
import { type BigIntStats, close, createReadStream, fstat, promises as fsp } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ClamdClient, type ClamdSession, type ScanResult } from './client.js';

export interface Query {
	serial: number;
	/** The exec-ing process. */
	pid: number;
	/** A descriptor of the executed file, ours to read and close; -1 if none was handed over. */
	fd: number;
	/** The resolved path's bytes; undefined when the file has no usable name. */
	path?: Buffer;
}

/** Parse one query line (with or without its newline); undefined if it breaks the protocol. */
export function parseQuery(line: string): Query | undefined {
	let query: Query | undefined = undefined;
	// TODO(4.5) BEGIN: match "Q <serial> <pid> <fd> <path>" exactly (fd may be -1, path lowercase hex pairs or "-") and decode the hex into a Buffer
	const m = /^Q (\d+) (\d+) (-1|\d+) ((?:[0-9a-f]{2})+|-)\n?$/.exec(line);
	if (m) {
		query = {
			serial: Number(m[1]),
			pid: Number(m[2]),
			fd: Number(m[3]),
			path: m[4] === '-' ? undefined : Buffer.from(m[4]!, 'hex'),
		};
	}
	// TODO(4.5) END
	return query;
}

export function formatAnswer(serial: number, allow: boolean): string {
	return `A ${serial} ${allow ? 'allow' : 'deny'}\n`;
}

/** A path for a log line: quoted, printable ASCII as is, any other byte as \xHH. */
export function quotePath(path: Buffer | undefined): string {
	if (!path) return '-';
	let out = '"';
	for (const b of path) {
		if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
		else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
		else out += `\\x${b.toString(16).padStart(2, '0')}`;
	}
	return `${out}"`;
}

/** The identity a cached verdict belongs to: a changed file gets a new key. */
export function cacheKey(st: BigIntStats): string {
	let key = '';
	// TODO(4.5) BEGIN: join st.dev, st.ino, st.size, st.mtimeNs and st.ctimeNs into one string
	key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
	// TODO(4.5) END
	return key;
}

/** What clamd said about a file, reduced to what the relay answers. */
export interface Verdict {
	allow: boolean;
	verdict: ScanResult['verdict'];
	/** The signature found, without ".UNOFFICIAL". */
	signature?: string;
	/** Why the scan failed (clamd's words, or ours). */
	reason?: string;
}

/** A bounded map from file identity to verdict; the least recently used entry goes first. */
export class VerdictCache {
	private readonly entries = new Map<string, Verdict>();
	constructor(readonly limit: number) {}

	get(key: string): Verdict | undefined {
		const v = this.entries.get(key);
		if (v) {
			this.entries.delete(key);
			this.entries.set(key, v);
		}
		return v;
	}

	set(key: string, v: Verdict): void {
		this.entries.delete(key);
		this.entries.set(key, v);
		if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
	}

	get size(): number {
		return this.entries.size;
	}
}

/** Runs at most `limit` tasks at once; the others wait in order. */
export class Limiter {
	private running = 0;
	private readonly waiting: (() => void)[] = [];
	/** The most tasks that ever ran at once. */
	peak = 0;
	constructor(readonly limit: number) {
		if (!(Number.isInteger(limit) && limit > 0)) throw new TypeError(`the limit must be a positive integer, got ${limit}`);
	}

	async run<T>(task: () => Promise<T>): Promise<T> {
		if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
		else this.running++;
		this.peak = Math.max(this.peak, this.running);
		try {
			return await task();
		} finally {
			const next = this.waiting.shift();
			if (next) next();
			else this.running--;
		}
	}
}

export interface Decision extends Verdict {
	query: Query;
	cached: boolean;
	ms: number;
}

export function formatDecision(d: Decision): string {
	const fields = [
		`serial=${d.query.serial}`,
		`pid=${d.query.pid}`,
		`fd=${d.query.fd}`,
		`answer=${d.allow ? 'allow' : 'deny'}`,
		`verdict=${d.verdict}`,
		...(d.signature ? [`signature=${d.signature}`] : []),
		...(d.reason ? [`reason=${JSON.stringify(d.reason)}`] : []),
		`cached=${d.cached ? 'yes' : 'no'}`,
		`ms=${d.ms.toFixed(1)}`,
		`path=${quotePath(d.query.path)}`,
	];
	return `decision ${fields.join(' ')}`;
}

export interface RelayOptions {
	/** clamd, through the chapter 3 client (its timeoutMs bounds each scan). */
	client: ClamdClient;
	/** What to answer when clamd cannot give a verdict. */
	onError: 'allow' | 'deny';
	maxScans: number;
	cacheSize: number;
	/** Wait this long before each scan, not before a cached answer (lesson 4.8 widens the race window with it). */
	delayMs?: number;
	log: (line: string) => void;
}

const isUtf8 = (b: Buffer) => Buffer.from(b.toString('utf8'), 'utf8').equals(b);

/** What d_path() appends to the path of an unlinked file. */
const DELETED = Buffer.from(' (deleted)');
const isDeletedName = (b: Buffer) => b.length > DELETED.length && b.subarray(-DELETED.length).equals(DELETED);

/**
 * The query with its path as the relay (and clamd, also root) can open it. d_path() names the
 * file from the exec-ing process's root: when a chroot moved that root away from ours, the name
 * is looked up under /proc/<pid>/root. (Only pass_fd=1 is immune to a root that changes while
 * the exec waits: a name is looked up again at scan time, a descriptor is the file itself.)
 */
export async function inCallersRoot(query: Query): Promise<Query> {
	if (!query.path || query.pid <= 0) return query; // pid 0: in a pid namespace we cannot see
	const root = `/proc/${query.pid}/root`;
	try {
		const [theirs, ours] = await Promise.all([fsp.stat(root, { bigint: true }), fsp.stat('/', { bigint: true })]);
		if (theirs.dev === ours.dev && theirs.ino === ours.ino) return query;
	} catch {
		// gone, or not ours to see: the lookup under /proc fails and --on-error decides
	}
	return { ...query, path: Buffer.concat([Buffer.from(root), query.path]) };
}

/** The decision-making part, without the device: testable against a real clamd on the host. */
export class Relay {
	readonly cache: VerdictCache;
	readonly limiter: Limiter;
	private session: ClamdSession;
	/** Scans in progress by file identity: concurrent execs of one file share one scan. */
	private readonly inFlight = new Map<string, Promise<Verdict>>();
	decisions = 0;

	constructor(readonly options: RelayOptions) {
		this.cache = new VerdictCache(options.cacheSize);
		this.limiter = new Limiter(options.maxScans);
		this.session = options.client.session();
	}

	/** Decide one query; never throws. Closes the query's descriptor. */
	async decide(query: Query): Promise<Decision> {
		const started = performance.now();
		try {
			if (query.fd < 0 && query.path && isDeletedName(query.path)) {
				// scanning that name would judge whatever file now carries it, not the one executed
				const verdict = this.failed('the file was deleted: its path names another file or none, and no descriptor was handed over');
				return this.finish({ ...verdict, query, cached: false, ms: performance.now() - started });
			}
			const target = await inCallersRoot(query);
			const identity = await this.identify(target);
			const key = identity && cacheKey(identity);
			const known = key ? this.cache.get(key) : undefined;
			const verdict = known ?? (await this.verdictOnce(target, key));
			return this.finish({ ...verdict, query, cached: known !== undefined, ms: performance.now() - started });
		} catch (e) {
			const verdict = this.failed(`relay: ${(e as Error).message}`);
			return this.finish({ ...verdict, query, cached: false, ms: performance.now() - started });
		} finally {
			if (query.fd >= 0) close(query.fd, () => {});
		}
	}

	private finish(d: Decision): Decision {
		this.decisions++;
		this.options.log(formatDecision(d));
		return d;
	}

	/** The file's identity for the cache: the handed descriptor's if any, else the path's. */
	private async identify(query: Query): Promise<BigIntStats | undefined> {
		try {
			if (query.fd >= 0) return await fstatBigint(query.fd);
			if (query.path) return await fsp.stat(query.path, { bigint: true });
		} catch {
			// gone or unreadable: clamd's scan will say so
		}
		return undefined;
	}

	private verdictOnce(query: Query, key: string | undefined): Promise<Verdict> {
		if (!key) return this.delayedScan(query);
		const running = this.inFlight.get(key);
		if (running) return running;
		const p = this.delayedScan(query)
			.then((v) => {
				// errors are not remembered: the next exec asks clamd again
				if (v.verdict !== 'error') this.cache.set(key, v);
				return v;
			})
			.finally(() => this.inFlight.delete(key));
		this.inFlight.set(key, p);
		return p;
	}

	/** --delay-ms holds a scan back: the window between the exec's open and the scan grows. */
	private async delayedScan(query: Query): Promise<Verdict> {
		if (this.options.delayMs) await new Promise((r) => setTimeout(r, this.options.delayMs));
		return this.scan(query);
	}

	private failed(reason: string): Verdict {
		return { allow: this.options.onError === 'allow', verdict: 'error', reason };
	}

	/** Ask clamd about the file, within the concurrency limit. */
	private async scan(query: Query): Promise<Verdict> {
		let verdict: Verdict = { allow: true, verdict: 'error', reason: 'not scanned' };
		// TODO(4.5) BEGIN: inside this.limiter.run(), ask clamd: session.instream() of the handed fd (createReadStream with fd, start 0, autoClose false), or session.scan() of a UTF-8 path, or session.instream() of a non-UTF-8 path; clean allows, found denies with its signature, an error or a thrown ClamdError goes to this.failed()
		const { path, fd } = query;
		verdict = await this.limiter.run(async () => {
			try {
				let result: ScanResult;
				if (fd >= 0) result = await this.session.instream(createReadStream('', { fd, start: 0, autoClose: false }));
				else if (!path) return this.failed('the file has no usable path and no descriptor was handed over');
				else if (isUtf8(path)) result = await this.session.scan(path.toString('utf8'));
				else result = await this.session.instream(createReadStream(path));
				if (result.verdict === 'clean') return { allow: true, verdict: 'clean' };
				if (result.verdict === 'found') return { allow: false, verdict: 'found', signature: result.signature };
				return this.failed(result.reason);
			} catch (e) {
				return this.failed((e as Error).message);
			}
		});
		// TODO(4.5) END
		return verdict;
	}

	/** Wait for the replies still due and close the clamd session. */
	async close(): Promise<void> {
		await this.session.end().catch(() => {});
	}
}

const fstatBigint = (fd: number) => new Promise<BigIntStats>((resolve, reject) => fstat(fd, { bigint: true }, (e, s) => (e ? reject(e) : resolve(s))));

/** The largest query line: "Q", three numbers and a hex path of up to PATH_MAX - 1 bytes. */
const QUERY_MAX = 64 + 2 * 4096;

/**
 * Serve the device until it says end of file (after BYE) or fails. Each query is decided
 * concurrently; its answer is written as soon as it is known.
 */
export async function serveDevice(devicePath: string, relay: Relay, log: (line: string) => void): Promise<{ stop: () => Promise<void>; done: Promise<void> }> {
	const device = await fsp.open(devicePath, 'r+');
	const pending = new Set<Promise<void>>();
	let stopping = false;

	const answer = async (d: Decision) => {
		try {
			await device.write(formatAnswer(d.query.serial, d.allow));
		} catch (e) {
			const code = (e as NodeJS.ErrnoException).code;
			// ENOENT: the exec stopped waiting (timeout, SIGKILL) or the relay said BYE and closed
			log(`relay: answer for serial ${d.query.serial} not taken: ${code ?? (e as Error).message}`);
		}
	};

	const readLoop = async () => {
		const buf = Buffer.alloc(QUERY_MAX);
		for (;;) {
			let n: number;
			try {
				({ bytesRead: n } = await device.read(buf, 0, buf.length, null));
			} catch (e) {
				if ((e as NodeJS.ErrnoException).code === 'EINTR' || (e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
				log(`relay: reading ${devicePath} failed: ${(e as Error).message}`);
				return;
			}
			if (n === 0) return; // end of file: after BYE, or a device that has nothing to say
			const line = buf.subarray(0, n).toString('latin1');
			const query = parseQuery(line);
			if (!query) {
				log(`relay: not a query: ${JSON.stringify(line)}`);
				continue;
			}
			const work = relay.decide(query).then(answer);
			pending.add(work);
			void work.finally(() => pending.delete(work));
		}
	};

	const done = readLoop().then(async () => {
		await Promise.allSettled([...pending]);
		await relay.close();
		await device.close();
	});

	const stop = async () => {
		if (stopping) return done;
		stopping = true;
		// queries we have not read get the module's fail policy now, and the blocked read ends
		await device.write('BYE\n').catch((e: Error) => log(`relay: BYE failed: ${e.message}`));
		return done;
	};
	return { stop, done };
}

interface CliOptions {
	device: string;
	clamd: string;
	onError: 'allow' | 'deny';
	maxScans: number;
	scanTimeoutMs: number;
	cacheSize: number;
	delayMs: number;
}

const USAGE =
	'usage: relay --clamd SOCKET [--device /dev/execgate] [--on-error deny|allow] [--max-scans 4] [--scan-timeout-ms 3000] [--cache-size 4096] [--delay-ms 0]';

/** Parse the command line; throws with the usage on a mistake. */
export function parseArgs(argv: string[]): CliOptions {
	const o: CliOptions = { device: '/dev/execgate', clamd: '', onError: 'deny', maxScans: 4, scanTimeoutMs: 3000, cacheSize: 4096, delayMs: 0 };
	const number = (name: string, v: string | undefined, min: number) => {
		const n = Number(v);
		if (v === undefined || !Number.isInteger(n) || n < min) throw new Error(`${name} needs a whole number of at least ${min}, got ${v ?? 'nothing'}\n${USAGE}`);
		return n;
	};
	for (let i = 0; i < argv.length; i++) {
		const [arg, value] = [argv[i], argv[i + 1]];
		i++;
		if (arg === '--device' && value) o.device = value;
		else if (arg === '--clamd' && value) o.clamd = value;
		else if (arg === '--on-error' && (value === 'allow' || value === 'deny')) o.onError = value;
		else if (arg === '--max-scans') o.maxScans = number(arg, value, 1);
		else if (arg === '--scan-timeout-ms') o.scanTimeoutMs = number(arg, value, 1);
		else if (arg === '--cache-size') o.cacheSize = number(arg, value, 1);
		else if (arg === '--delay-ms') o.delayMs = number(arg, value, 0);
		else throw new Error(`unknown or incomplete argument ${arg}${value !== undefined ? ` ${value}` : ''}\n${USAGE}`);
	}
	if (!o.clamd) throw new Error(`--clamd is required\n${USAGE}`);
	return o;
}

async function main(): Promise<void> {
	let options: CliOptions;
	try {
		options = parseArgs(process.argv.slice(2));
	} catch (e) {
		process.stderr.write(`${(e as Error).message}\n`);
		process.exitCode = 2;
		return;
	}
	const log = (line: string) => process.stdout.write(`${line}\n`);
	const client = new ClamdClient({ socket: options.clamd, timeoutMs: options.scanTimeoutMs, maxConnections: options.maxScans });
	const relay = new Relay({ client, onError: options.onError, maxScans: options.maxScans, cacheSize: options.cacheSize, delayMs: options.delayMs, log });
	let served: Awaited<ReturnType<typeof serveDevice>>;
	try {
		served = await serveDevice(options.device, relay, log);
	} catch (e) {
		process.stderr.write(`relay: cannot open ${options.device}: ${(e as Error).message}\n`);
		await relay.close();
		process.exitCode = 1;
		return;
	}
	// TODO(4.5) BEGIN: on SIGTERM and SIGINT log "relay: stopping (SIGNAL)" and call served.stop() once
	const onSignal = (signal: NodeJS.Signals) => {
		log(`relay: stopping (${signal})`);
		void served.stop();
	};
	process.once('SIGTERM', onSignal);
	process.once('SIGINT', onSignal);
	// TODO(4.5) END
	log(`relay: ready device=${options.device} clamd=${options.clamd} max-scans=${options.maxScans} on-error=${options.onError} scan-timeout-ms=${options.scanTimeoutMs}${options.delayMs ? ` delay-ms=${options.delayMs}` : ''}`);
	await served.done;
	log(`relay: stopped after ${relay.decisions} decisions (at most ${relay.limiter.peak} scans at once, ${relay.cache.size} verdicts cached)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
