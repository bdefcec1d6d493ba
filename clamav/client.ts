// A clamd client for the z-protocol (commands "zCOMMAND\0", replies ending in NUL) over a unix
// socket or TCP. It keeps clamd's own words: a scan ends as clean, found (with the signature) or
// error (with clamd's reason), while a failure to talk to clamd at all (no daemon, timeout) is
// thrown as a ClamdError. Only node's standard library, so it bundles for the guest as it is.
import { createReadStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export type ScanResult =
	| { verdict: 'clean' }
	/** `signature` without clamd's ".UNOFFICIAL" suffix; `official` is false when clamd added it. */
	| { verdict: 'found'; signature: string; official: boolean }
	/** `reason` is clamd's own text, e.g. "File path check failure: No such file or directory." */
	| { verdict: 'error'; reason: string };

export interface ClamdClientOptions {
	/** Path of clamd's LocalSocket. */
	socket?: string;
	/** TCPAddr and TCPSocket of clamd (instead of `socket`). */
	host?: string;
	port?: number;
	/** Limit for one command, from connecting to the last byte of the reply; default 30 s. */
	timeoutMs?: number;
	/**
	 * Connections open at once (a session holds one until it ends); more wait their turn.
	 * clamd refuses connections past its listen backlog, so a burst of scans must queue here.
	 * Default 32.
	 */
	maxConnections?: number;
}

/** What INSTREAM can send: a file (by its path on this machine), bytes, or a stream of bytes. */
export type StreamSource = string | Uint8Array | AsyncIterable<Uint8Array | string>;

/** clamd could not be reached, did not answer in time, or answered something unexpected. */
export class ClamdError extends Error {
	constructor(message: string, options?: { cause?: unknown }) {
		super(message, options);
		this.name = new.target.name;
	}
}
export class ClamdTimeout extends ClamdError {}
/** The bytes to stream could not be read (e.g. the file does not exist); nothing was scanned. */
export class SourceError extends Error {
	constructor(message: string, options?: { cause?: unknown }) {
		super(message, options);
		this.name = 'SourceError';
	}
}

/** The largest INSTREAM chunk we send; clamd accepts any size up to StreamMaxLength. */
const CHUNK = 64 * 1024;
/**
 * The longest reply believed: a path (at most PATH_MAX) and a few words. Anything longer is a
 * broken or hostile clamd, and reading on would only grow memory until the time limit.
 */
export const MAX_REPLY_BYTES = 64 * 1024;
const tooLong = () => new ClamdError(`clamd sent a reply longer than ${MAX_REPLY_BYTES} bytes without ending it`);
const UNOFFICIAL = '.UNOFFICIAL';

/** Parse one reply to a scan of `name` (the path sent, or "stream"). */
export function parseScanReply(reply: string, name: string): ScanResult {
	const text = reply.replace(/\0$/, '').replace(/\n$/, '');
	const body = text.startsWith(`${name}: `) ? text.slice(name.length + 2) : text;
	if (body === 'OK') return { verdict: 'clean' };
	if (body.endsWith(' FOUND')) {
		// the path may hold ": ", a signature name never does
		const full = body.slice(body.lastIndexOf(': ') + 1, -' FOUND'.length).trim();
		const official = !full.endsWith(UNOFFICIAL);
		return { verdict: 'found', signature: official ? full : full.slice(0, -UNOFFICIAL.length), official };
	}
	if (body.endsWith(' ERROR')) return { verdict: 'error', reason: body.slice(0, -' ERROR'.length) };
	// e.g. "COMMAND READ TIMED OUT" or "UNKNOWN COMMAND": not a verdict, so clamd's whole reply
	return { verdict: 'error', reason: text };
}

/** A result as clamd words it after the path: "OK", "NAME.UNOFFICIAL FOUND", "REASON ERROR". */
export function formatScanResult(r: ScanResult): string {
	if (r.verdict === 'clean') return 'OK';
	if (r.verdict === 'found') return `${r.signature}${r.official ? '' : UNOFFICIAL} FOUND`;
	return `${r.reason} ERROR`;
}

/** A directory scan may send several replies: a finding wins, then an error, else clean. */
function combine(results: ScanResult[]): ScanResult {
	return results.find((r) => r.verdict === 'found') ?? results.find((r) => r.verdict === 'error') ?? { verdict: 'clean' };
}

function checkPath(p: string): void {
	if (typeof p !== 'string' || !path.isAbsolute(p)) {
		// clamd would resolve it against its own working directory, not ours
		throw new TypeError(`clamd needs an absolute path, got ${JSON.stringify(p)}`);
	}
	if (p.includes('\0')) throw new TypeError(`a path cannot contain a NUL byte: ${JSON.stringify(p)}`);
}

/** The 4-byte big-endian length that precedes each INSTREAM chunk. */
function frameHeader(length: number): Buffer {
	const h = Buffer.alloc(4);
	h.writeUInt32BE(length);
	return h;
}

/** Counts open connections; past the limit, callers wait in order. */
class Gate {
	private open = 0;
	private waiting: (() => void)[] = [];
	constructor(private readonly limit: number) {}
	/** Take a slot, waiting for one if needed; a caller whose deadline passes leaves the queue. */
	enter(deadline: Deadline, what: () => string): Promise<void> {
		if (this.open < this.limit) {
			this.open++;
			return Promise.resolve();
		}
		return new Promise<void>((resolve, reject) => {
			this.waiting.push(resolve);
			deadline.onExpire(() => {
				const i = this.waiting.indexOf(resolve);
				// not in the queue any more: the slot was already handed over, and the caller holds it
				if (i < 0) return;
				this.waiting.splice(i, 1);
				reject(deadline.timeout(what()));
			});
		});
	}
	leave(): void {
		const next = this.waiting.shift();
		if (next) next(); // the slot passes on: `open` stays the same
		else this.open--;
	}
}

export class ClamdClient {
	readonly timeoutMs: number;
	private readonly target: net.NetConnectOpts;
	private readonly gate: Gate;

	constructor(readonly options: ClamdClientOptions) {
		if (options.socket && (options.host || options.port)) throw new TypeError('give clamd either a socket path or a host and port, not both');
		if (options.socket) this.target = { path: options.socket };
		else if (options.port) this.target = { host: options.host ?? '127.0.0.1', port: options.port };
		else throw new TypeError('clamd needs a socket path or a TCP port');
		this.timeoutMs = options.timeoutMs ?? 30_000;
		const max = options.maxConnections ?? 32;
		if (!(Number.isInteger(max) && max > 0)) throw new TypeError(`maxConnections must be a positive integer, got ${max}`);
		this.gate = new Gate(max);
	}

	/** Where this client connects, for messages. */
	get address(): string {
		return 'path' in this.target ? String(this.target.path) : `${this.target.host}:${this.target.port}`;
	}

	/** Resolves when clamd answers PONG. */
	async ping(): Promise<void> {
		const reply = await this.command('PING');
		if (reply !== 'PONG') throw new ClamdError(`clamd at ${this.address} answered PING with ${JSON.stringify(reply)}`);
	}

	/** clamd's version line, e.g. "ClamAV 1.4.6" (followed by the database version if it has one). */
	async version(): Promise<string> {
		return this.command('VERSION');
	}

	/** Ask clamd to reload its database; the new one is active a little later. */
	async reload(): Promise<void> {
		const reply = await this.command('RELOAD');
		if (reply !== 'RELOADING') throw new ClamdError(`clamd at ${this.address} answered RELOAD with ${JSON.stringify(reply)}`);
	}

	/** clamd opens and scans the file (or directory) itself: the path is on clamd's machine. */
	async scan(absPath: string): Promise<ScanResult> {
		checkPath(absPath);
		const replies = await this.exchange(`SCAN ${absPath}`);
		return combine(replies.map((r) => parseScanReply(r, absPath)));
	}

	/** Send the bytes to clamd in framed chunks and let it scan them. */
	async instream(source: StreamSource): Promise<ScanResult> {
		const replies = await this.exchange('INSTREAM', source);
		return combine(replies.map((r) => parseScanReply(r, 'stream')));
	}

	/**
	 * Many commands on one connection (IDSESSION): scans may be issued without waiting, and each
	 * gets its own reply. The session holds a connection until end().
	 */
	session(): ClamdSession {
		return new ClamdSession(this);
	}

	/** A command with a single reply (PING, VERSION, RELOAD). */
	private async command(name: string): Promise<string> {
		const replies = await this.exchange(name);
		if (replies.length !== 1) throw new ClamdError(`clamd at ${this.address} answered ${name} with ${JSON.stringify(replies.join('\n'))}`);
		return replies[0]!;
	}

	/** @internal Open a connection inside the concurrency limit; `release` must be called once. */
	async connect(deadline: Deadline): Promise<{ socket: net.Socket; release: () => void }> {
		// outside the try below: a caller that never got a slot must not give one back
		await this.gate.enter(deadline, () => `waiting for a free connection to clamd at ${this.address}`);
		let released = false;
		const release = () => {
			if (!released) (released = true), this.gate.leave();
		};
		const attempt = () =>
			new Promise<net.Socket>((resolve, reject) => {
				const s = net.createConnection(this.target, () => {
					s.off('error', reject);
					resolve(s);
				});
				s.once('error', reject);
				deadline.onExpire(() => s.destroy());
			});
		try {
			for (let pause = 2; ; pause = Math.min(pause * 2, 100)) {
				try {
					const socket = await deadline.race(attempt(), () => `connecting to clamd at ${this.address}`);
					socket.once('close', release);
					return { socket, release };
				} catch (e) {
					// EAGAIN: clamd's listen backlog is full (other clients, or a burst): try again
					if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
					await deadline.race(new Promise((r) => setTimeout(r, pause)), () => `connecting to clamd at ${this.address} (its backlog stayed full)`);
				}
			}
		} catch (e) {
			release();
			if (e instanceof ClamdError) throw e;
			throw new ClamdError(`cannot connect to clamd at ${this.address}: ${(e as Error).message}`, { cause: e });
		}
	}

	/** One connection, one command (and stream); all replies until clamd closes the connection. */
	private async exchange(command: string, source?: StreamSource): Promise<string[]> {
		const deadline = new Deadline(this.timeoutMs);
		try {
			const { socket } = await this.connect(deadline);
			const replies = collectReplies(socket, deadline, () => (source === undefined ? `${command}` : `${command}: sending the stream, or waiting for the reply`));
			socket.write(`z${command}\0`);
			if (source !== undefined) {
				const pipe = surviveBrokenPipe(socket);
				try {
					await sendStream(socket, source, deadline, () => replies.started.done || pipe.broken);
				} catch (e) {
					// a write error is clamd closing the connection: its reply (if any) says why
					if (e instanceof SourceError) {
						socket.destroy();
						throw e;
					}
				}
			}
			return await replies.all;
		} finally {
			deadline.clear();
		}
	}
}

/** One time limit shared by the steps of a command. */
class Deadline {
	private timer: NodeJS.Timeout;
	private expired = false;
	private listeners: (() => void)[] = [];
	constructor(readonly ms: number) {
		this.timer = setTimeout(() => {
			this.expired = true;
			for (const l of this.listeners) l();
		}, ms);
	}
	onExpire(f: () => void): void {
		if (this.expired) f();
		else this.listeners.push(f);
	}
	timeout(what: string): ClamdTimeout {
		return new ClamdTimeout(`clamd did not answer within ${this.ms} ms (${what})`);
	}
	/** `p`, or a ClamdTimeout saying what was being waited for. */
	race<T>(p: Promise<T>, what: () => string): Promise<T> {
		return new Promise<T>((resolve, reject) => {
			this.onExpire(() => reject(this.timeout(what())));
			p.then(resolve, reject);
		});
	}
	clear(): void {
		clearTimeout(this.timer);
		this.listeners = [];
	}
}

/** Split a byte stream at NUL; a trailing unterminated text counts as a reply (e.g. "COMMAND READ TIMED OUT\n"). */
function collectReplies(socket: net.Socket, deadline: Deadline, what: () => string): { all: Promise<string[]>; started: { done: boolean } } {
	const started = { done: false };
	const all = deadline.race(
		new Promise<string[]>((resolve, reject) => {
			const chunks: Buffer[] = [];
			let bytes = 0;
			socket.on('data', (d: Buffer) => {
				chunks.push(d);
				started.done = true;
				// one command's replies are at most a few; a reply without end is a broken clamd
				if ((bytes += d.length) > 4 * MAX_REPLY_BYTES) {
					reject(tooLong());
					socket.destroy();
				}
			});
			const finish = () => {
				const text = Buffer.concat(chunks).toString('utf8');
				resolve(text.split('\0').filter((r) => r.trim() !== '').map((r) => r.replace(/\n$/, '')));
			};
			socket.once('end', finish);
			socket.once('error', (e: NodeJS.ErrnoException) => {
				// clamd closes right after refusing a stream: writing then fails, but its reply came first
				if (chunks.length) finish();
				else if (e.code === 'EPIPE' || e.code === 'ECONNRESET') {
					reject(new ClamdError(`clamd closed the connection before replying (${e.code})`, { cause: e }));
				} else reject(new ClamdError(`connection to clamd failed: ${e.message}`, { cause: e }));
			});
			deadline.onExpire(() => socket.destroy());
		}),
		what,
	);
	all.catch(() => {});
	return { all, started };
}

async function* bytesOf(source: StreamSource): AsyncGenerator<Uint8Array> {
	if (typeof source === 'string') {
		yield* createReadStream(source, { highWaterMark: CHUNK });
	} else if (source instanceof Uint8Array) {
		yield source;
	} else {
		for await (const piece of source) yield typeof piece === 'string' ? Buffer.from(piece) : piece;
	}
}

/**
 * clamd refuses a stream that grows past its StreamMaxLength by replying and closing at once,
 * while we are still sending: our next write fails with EPIPE, and node would then destroy the
 * socket with clamd's reply unread in it. Here a broken pipe only stops the sending; the socket
 * stays open for reading, so the reply and the end of the connection still arrive.
 */
function surviveBrokenPipe(socket: net.Socket): { readonly broken: boolean } {
	const state = { broken: false };
	const write = socket._write.bind(socket);
	socket._write = (chunk, encoding, callback) =>
		write(chunk, encoding, (error?: Error | null) => {
			const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
			if (code === 'EPIPE' || code === 'ECONNRESET') {
				state.broken = true;
				callback();
			} else callback(error);
		});
	return state;
}

/**
 * Write the source as INSTREAM chunks and the zero-length terminator, minding backpressure.
 * Returns false if it stopped early because `stop()` said so (clamd replied or hung up).
 */
async function sendStream(socket: net.Socket, source: StreamSource, deadline: Deadline, stop: () => boolean): Promise<boolean> {
	const pieces = bytesOf(source);
	const write = (b: Uint8Array) =>
		new Promise<void>((resolve, reject) => {
			socket.write(b, (e) => (e ? reject(e) : resolve()));
		});
	let expired = false;
	deadline.onExpire(() => {
		expired = true;
		void pieces.return(undefined);
	});
	for (;;) {
		const next = await deadline.race(
			pieces.next().catch((e: Error) => {
				throw new SourceError(`cannot read what was to be streamed to clamd: ${e.message}`, { cause: e });
			}),
			() => 'reading the stream to send',
		);
		if (next.done || expired) break;
		const bytes = next.value;
		for (let off = 0; off < bytes.length; off += CHUNK) {
			// a zero-length chunk would end the stream early, so empty pieces are skipped
			const part = bytes.subarray(off, off + CHUNK);
			if (stop() || socket.destroyed) return false;
			await write(frameHeader(part.length));
			await write(part);
		}
	}
	if (stop() || socket.destroyed) return false;
	await write(frameHeader(0));
	return true;
}

interface SessionPending {
	name: string;
	resolve: (r: ScanResult) => void;
	reject: (e: Error) => void;
	timer?: NodeJS.Timeout;
}

/**
 * One IDSESSION connection. clamd numbers the commands of a session 1, 2, ... in the order it
 * reads them and prefixes each reply with that number, so replies may come back in any order.
 */
class SessionConnection {
	readonly pending = new Map<number, SessionPending>();
	private sent = 0;
	private buffer = '';
	readonly pipe: { readonly broken: boolean };
	/** No new commands: clamd is closing it, or its state is unknown. */
	retired = false;
	readonly closed: Promise<void>;

	constructor(
		readonly socket: net.Socket,
		private readonly timeoutMs: number,
	) {
		this.pipe = surviveBrokenPipe(socket);
		socket.write('zIDSESSION\0');
		socket.on('data', (d: Buffer) => this.onData(d.toString('utf8')));
		socket.on('error', () => {}); // 'close' follows and fails what is still waiting
		this.closed = new Promise((resolve) =>
			socket.once('close', () => {
				this.retired = true;
				this.failAll(new ClamdError('clamd closed the session before replying'));
				resolve();
			}),
		);
	}

	/** Write one command (and its stream); its reply resolves `entry`. */
	async send(command: string, entry: SessionPending, source?: StreamSource): Promise<void> {
		const id = ++this.sent;
		this.pending.set(id, entry);
		entry.timer = setTimeout(() => {
			// the connection's state is unknown now: close it, failing what else was waiting
			this.fail(id, new ClamdTimeout(`clamd did not answer within ${this.timeoutMs} ms (${command} in a session)`));
			this.retired = true;
			this.socket.destroy();
		}, this.timeoutMs);
		this.socket.write(`z${command}\0`);
		if (source === undefined) return;
		const deadline = new Deadline(this.timeoutMs);
		try {
			const complete = await sendStream(this.socket, source, deadline, () => this.pipe.broken || !this.pending.has(id));
			// clamd replied before the end of the stream: it refused it and closes the connection
			if (!complete) this.retired = true;
		} catch (e) {
			// clamd still waits for the rest of the stream: this connection is lost
			this.fail(id, e as Error);
			this.retired = true;
			this.socket.destroy();
		} finally {
			deadline.clear();
		}
	}

	/** Wait for the replies still due, then END the session. */
	async end(): Promise<void> {
		await Promise.all(
			[...this.pending.values()].map(
				(p) =>
					new Promise<void>((done) => {
						const { resolve, reject } = p;
						p.resolve = (v) => (resolve(v), done());
						p.reject = (e) => (reject(e), done());
					}),
			),
		);
		if (!this.socket.destroyed) this.socket.end('zEND\0');
		await this.closed;
	}

	private onData(text: string): void {
		// search only the new text for the NUL: the buffer before it has none
		let from = this.buffer.length;
		this.buffer += text;
		let nul: number;
		while ((nul = this.buffer.indexOf('\0', from)) >= 0) {
			from = 0;
			const reply = this.buffer.slice(0, nul);
			this.buffer = this.buffer.slice(nul + 1);
			const m = /^(\d+): ([\s\S]*)$/.exec(reply);
			const entry = m ? this.pending.get(Number(m[1])) : undefined;
			if (!m || !entry) continue;
			this.pending.delete(Number(m[1]));
			clearTimeout(entry.timer);
			entry.resolve(parseScanReply(m[2]!, entry.name));
		}
		if (this.buffer.length > MAX_REPLY_BYTES) {
			this.retired = true;
			this.failAll(tooLong());
			this.socket.destroy();
		}
	}

	private fail(id: number, error: Error): void {
		const entry = this.pending.get(id);
		if (!entry) return;
		this.pending.delete(id);
		clearTimeout(entry.timer);
		entry.reject(error);
	}

	private failAll(error: Error): void {
		for (const id of [...this.pending.keys()]) this.fail(id, error);
	}
}

/**
 * Many commands on one connection (IDSESSION). Commands may be issued without waiting for the
 * previous replies. When clamd ends the connection (IdleTimeout, or after refusing a stream),
 * the next command opens a new one.
 */
export class ClamdSession {
	private current?: Promise<SessionConnection>;
	private all: Promise<SessionConnection>[] = [];
	/** Commands are written one after another: a stream must not interleave with another command. */
	private writing: Promise<unknown> = Promise.resolve();
	private ended = false;

	constructor(private readonly client: ClamdClient) {}

	/** Scan a file on clamd's machine within the session. */
	scan(absPath: string): Promise<ScanResult> {
		checkPath(absPath);
		return this.submit(`SCAN ${absPath}`, absPath);
	}

	/** Stream bytes to clamd within the session. */
	instream(source: StreamSource): Promise<ScanResult> {
		return this.submit('INSTREAM', 'stream', source);
	}

	/** Finish: waits for the replies still due, then closes the connection. */
	async end(): Promise<void> {
		if (this.ended) return;
		this.ended = true;
		await this.writing.catch(() => {});
		const conns = await Promise.all(this.all.map((c) => c.catch(() => undefined)));
		await Promise.all(conns.map((c) => c?.end()));
	}

	private async connection(): Promise<SessionConnection> {
		const conn = this.current ? await this.current.catch(() => undefined) : undefined;
		if (conn && !conn.retired) return conn;
		const deadline = new Deadline(this.client.timeoutMs);
		const next = this.client
			.connect(deadline)
			.then(({ socket }) => new SessionConnection(socket, this.client.timeoutMs))
			.finally(() => deadline.clear());
		this.current = next;
		this.all.push(next);
		// a long session may go through many connections: forget the closed ones
		const forget = () => (this.all = this.all.filter((c) => c !== next));
		next.then((c) => c.closed.then(forget), forget);
		return next;
	}

	private submit(command: string, name: string, source?: StreamSource): Promise<ScanResult> {
		if (this.ended) return Promise.reject(new ClamdError('the session has ended'));
		return new Promise<ScanResult>((resolve, reject) => {
			const turn = this.writing.then(async () => (await this.connection()).send(command, { name, resolve, reject }, source));
			this.writing = turn.catch(reject);
		});
	}
}
