// One QEMU guest running Debian's kernel, driven through the agent on a virtio-serial port.
// The kernel console (ttyS0) is captured separately and classified into events, so a command
// that crashes the kernel fails with the evidence instead of a bare timeout.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { type KernelEvent, classifyConsole, consoleExcerpt, describeEvents } from './console.js';
import { cacheDir, repoRoot, sourceRoot } from './paths.js';
import { ownedTempDir } from './scratch.js';

export type Accel = 'kvm' | 'tcg';

export interface GuestImage {
	vmlinux: string;
	initramfs: string;
	accel: Accel;
	/**
	 * The compressed kernel, for a boot with KASLR: the uncompressed vmlinux enters through PVH,
	 * past the decompressor that randomizes the kernel's address, so it always runs unrandomized.
	 */
	bzImage?: string;
	/** The kernel's release (uname -r) and its Kbuild tree, for building modules. */
	kernelVersion: string;
	kernelBuildDir: string;
}

export interface BootOptions {
	/** Guest memory in MiB (the OOM lessons depend on it). */
	memoryMiB?: number;
	cpus?: number;
	/** Extra kernel command line words. */
	append?: string[];
	/** Restore this saved state instead of booting (flags must match the saving run). */
	incoming?: string;
	/** lab.mode=shell: an interactive shell on the console, stdio inherited. */
	interactive?: boolean;
	/** Give up on the boot (or restore) after this long; default 60 s under TCG. */
	bootTimeoutMs?: number;
	/** Called with every chunk of console output as it arrives. */
	onConsole?: (text: string) => void;
}

export interface RunOptions {
	/** Run as this uid (0 = root). */
	uid?: number;
	/**
	 * Host-side limit (default 60 s under TCG); the command's process group gets SIGKILL when it
	 * passes. Infinity for a daemon that runs until the test ends.
	 */
	timeoutMs?: number;
}

export interface RunResult {
	status: number;
	stdout: string;
	stderr: string;
	/** stdout and stderr interleaved as they arrived */
	output: string;
	ms: number;
}

export interface Running {
	id: number;
	/** The command's pid in the guest (also its process group); `exec prog` makes it prog's. */
	pid: Promise<number>;
	result: Promise<RunResult>;
	/** Output so far. */
	output(): string;
	kill(signal?: number): void;
}

/** Base timeouts are for TCG; KVM (or LAB_TIMEOUT_SCALE) scales them. */
export function scaledMs(accel: Accel, tcgMs: number): number {
	const factor = Number(process.env.LAB_TIMEOUT_SCALE ?? '1') * (accel === 'kvm' ? 0.5 : 1);
	return Math.round(tcgMs * factor);
}

/**
 * LAB_STATS_FILE=<file>: one JSON line per guest that came up (a cold boot or a restore), with
 * the milliseconds to its first command, so a benchmark counts and times the guests of a whole
 * run across its workers. One short append each: lines from several workers do not interleave.
 */
function recordLaunch(kind: 'boot' | 'restore', ms: number, accel: string): void {
	const file = process.env.LAB_STATS_FILE;
	if (file) appendFileSync(file, `${JSON.stringify({ kind, ms: Math.round(ms * 10) / 10, accel })}\n`);
}

export class GuestError extends Error {
	constructor(
		message: string,
		readonly events: KernelEvent[],
		readonly console: string,
	) {
		super(message);
		this.name = new.target.name;
	}
}

/** The guest is gone (panic, or QEMU died) while something waited on it. */
export class GuestDied extends GuestError {}
/** A command did not finish in time. The guest may be hung or the command blocked. */
export class CommandTimeout extends GuestError {
	constructor(
		message: string,
		events: KernelEvent[],
		consoleText: string,
		readonly partialOutput: string,
	) {
		super(message, events, consoleText);
	}
}

interface Pending {
	resolve: (r: RunResult) => void;
	reject: (e: Error) => void;
	stdout: Buffer[];
	stderr: Buffer[];
	output: Buffer[];
	started: number;
	pid: Promise<number>;
	gotPid: (pid: number) => void;
}

const QEMU = 'qemu-system-x86_64';

/**
 * Host folders the guest must see at their own paths once the host root is mounted: the
 * repository, the cache (bundles, builds) and the sources. Each gets its own 9p share, mounted
 * over the guest's tmpfs: a clone under /tmp would otherwise be hidden by the guest's own /tmp.
 */
export function exposedFolders(): string[] {
	const folders = [repoRoot, cacheDir, sourceRoot].map((d) => path.resolve(d));
	const outermost = folders.filter((d, i) => folders.indexOf(d) === i && !folders.some((o) => o !== d && d.startsWith(`${o}/`)));
	for (const d of outermost) {
		if (/[\s,]/.test(d)) throw new Error(`the guest cannot share ${d}: move the course to a path without spaces or commas`);
	}
	return outermost;
}
const CONSOLE_HEAD_BYTES = 1 << 20;
const KVM_FAILURE = /KVM internal error|kvm_buf_set_msrs: Assertion/;
const CONSOLE_TAIL_BYTES = 4 << 20;

export class Guest {
	private proc!: ChildProcess;
	private ctl?: net.Socket;
	private qmpSocket?: net.Socket;
	private qmpQueue: ((msg: { return?: unknown; error?: { desc: string } }) => void)[] = [];
	private pending = new Map<number, Pending>();
	private nextId = 1;
	private ctlBuffer = '';
	private consoleHead = '';
	private consoleTail: string[] = [];
	private consoleTailBytes = 0;
	private consoleDropped = 0;
	private classified?: { length: number; events: KernelEvent[] };
	private readyWaiter?: () => void;
	readonly dir: string;
	/** Resolves when QEMU has exited (a panic exits it: panic=-1 with -no-reboot). */
	exited!: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
	hasExited = false;
	bootMs = 0;

	/** Use start(): the constructor only prepares. */
	constructor(
		readonly image: GuestImage,
		readonly options: BootOptions,
	) {
		this.dir = ownedTempDir('lab-guest-');
	}

	/** QEMU's process id. */
	get pid(): number | undefined {
		return this.proc?.pid;
	}

	get accel(): Accel {
		return this.image.accel;
	}

	/** Everything the kernel printed on the console since this guest started (or was restored). */
	get console(): string {
		const tail = this.consoleTail.join('');
		this.consoleTail = [tail];
		const gap = this.consoleDropped ? `\n[lab: ${this.consoleDropped} bytes of console output dropped here]\n` : '';
		return this.consoleHead + gap + tail;
	}

	/** Keep the start and the last few MiB of a console that floods, not all of it. */
	private recordConsole(text: string): void {
		if (this.consoleHead.length < CONSOLE_HEAD_BYTES) {
			const take = text.slice(0, CONSOLE_HEAD_BYTES - this.consoleHead.length);
			this.consoleHead += take;
			text = text.slice(take.length);
		}
		if (!text) return;
		this.consoleTail.push(text);
		this.consoleTailBytes += text.length;
		if (this.consoleTailBytes > 2 * CONSOLE_TAIL_BYTES) {
			const tail = this.consoleTail.join('');
			const keep = tail.slice(-CONSOLE_TAIL_BYTES);
			this.consoleDropped += tail.length - keep.length;
			this.consoleTail = [keep];
			this.consoleTailBytes = keep.length;
		}
	}

	/** The console's events; classified again only when the console has grown. */
	events(): KernelEvent[] {
		const text = this.console;
		if (this.classified?.length !== text.length) this.classified = { length: text.length, events: classifyConsole(text) };
		return this.classified.events;
	}

	/** Boot a fresh guest, or restore one from saved state when options.incoming is set. */
	static async start<G extends Guest>(
		this: new (image: GuestImage, options: BootOptions) => G,
		image: GuestImage,
		options: BootOptions = {},
	): Promise<G> {
		const guest = new this(image, options);
		try {
			await guest.launch();
		} catch (e) {
			await guest.close();
			throw e;
		}
		return guest;
	}

	qemuArgs(): string[] {
		const o = this.options;
		const append = [
			'console=ttyS0',
			'quiet',
			// a panic ends QEMU at once instead of hanging or rebooting
			'panic=-1',
			'cryptomgr.notests',
			'tsc=reliable',
			'no_timer_check',
			`lab.mode=${o.interactive ? 'shell' : 'agent'}`,
			...exposedFolders().map((dir, i) => `lab.share=lab${i}:${dir}`),
			...(o.append ?? []),
		];
		const args = [
			'-accel', this.image.accel,
			...(this.image.accel === 'kvm' ? ['-cpu', 'host'] : []),
			'-M', 'pc',
			'-m', String(o.memoryMiB ?? 256),
			'-smp', String(o.cpus ?? 1),
			'-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
			'-nic', 'none',
			'-kernel', this.image.vmlinux,
			'-initrd', this.image.initramfs,
			'-append', append.join(' '),
			'-device', 'virtio-serial-pci',
			'-chardev', `socket,id=ctl,path=${this.dir}/ctl.sock,server=on,wait=off`,
			'-device', 'virtserialport,chardev=ctl,name=lab.ctl',
			'-qmp', `unix:${this.dir}/qmp.sock,server=on,wait=off`,
			'-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
		];
		exposedFolders().forEach((dir, i) => {
			args.push('-virtfs', `local,path=${dir},mount_tag=lab${i},security_model=none,readonly=on,multidevs=remap`);
		});
		if (o.interactive) args.push('-serial', 'mon:stdio');
		else args.push('-chardev', 'stdio,id=con,signal=off', '-serial', 'chardev:con');
		if (o.incoming) args.push('-incoming', `exec:cat ${o.incoming}`);
		return args;
	}

	private async launch(): Promise<void> {
		const t0 = performance.now();
		// setpriv --pdeathsig: QEMU gets SIGKILL when the test worker that started it dies,
		// even by SIGKILL, so no guest outlives its run.
		this.proc = spawn('setpriv', ['--pdeathsig', 'KILL', '--', QEMU, ...this.qemuArgs()], {
			stdio: this.options.interactive ? 'inherit' : ['ignore', 'pipe', 'pipe'],
		});
		this.exited = new Promise((resolve) => {
			this.proc.on('exit', (code, signal) => {
				this.hasExited = true;
				this.failPending();
				resolve({ code, signal });
			});
		});
		const onOutput = (d: Buffer) => {
			const text = d.toString('latin1');
			this.recordConsole(text);
			this.options.onConsole?.(text);
			// QEMU's KVM fails without exiting (the guest just stops): end it now, not at a time limit
			if (KVM_FAILURE.test(text)) this.proc.kill('SIGKILL');
		};
		this.proc.stdout?.on('data', onOutput);
		this.proc.stderr?.on('data', onOutput);
		if (this.options.interactive) return;

		const bootLimit = this.options.bootTimeoutMs ?? scaledMs(this.accel, 60_000);
		if (this.options.incoming) {
			await this.resumeIncoming(bootLimit);
			await this.connectControl(bootLimit);
		} else {
			const ready = new Promise<void>((resolve) => (this.readyWaiter = resolve));
			await this.connectControl(bootLimit);
			await this.within(ready, bootLimit, 'boot to the agent');
		}
		this.bootMs = performance.now() - t0;
		recordLaunch(this.options.incoming ? 'restore' : 'boot', this.bootMs, this.accel);
	}

	private async within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
		let timer: NodeJS.Timeout | undefined;
		const died = this.exited.then(() => {
			throw this.died(`the guest exited during ${what}`);
		});
		const late = new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new GuestError(`${what} took longer than ${ms} ms`, this.events(), this.console)), ms);
		});
		try {
			return await Promise.race([p, died, late]);
		} finally {
			clearTimeout(timer);
		}
	}

	private died(what: string): GuestDied {
		if (KVM_FAILURE.test(this.console)) {
			what += `: KVM does not work on this machine${process.env.LAB_ACCEL === 'kvm' ? ' (LAB_ACCEL=kvm forces it; unset LAB_ACCEL to use TCG)' : ''}`;
		}
		const events = this.events();
		const panic = events.find((e) => e.kind === 'panic');
		const summary = events.length ? `\nKernel events: ${describeEvents(events)}` : '';
		return new GuestDied(
			`${what}${panic ? ` (kernel panic: ${panic.reason})` : ''}${summary}\n--- console ---\n${consoleExcerpt(this.console, events)}`,
			events,
			this.console,
		);
	}

	private failPending(): void {
		for (const [, p] of this.pending) p.reject(this.died('the guest exited while a command was running'));
		this.pending.clear();
	}

	private async connectSocket(file: string, limitMs: number): Promise<net.Socket> {
		const deadline = performance.now() + limitMs;
		for (;;) {
			if (this.hasExited) throw this.died('QEMU exited before its sockets were ready');
			try {
				return await new Promise<net.Socket>((resolve, reject) => {
					const s = net.connect(file, () => resolve(s));
					s.once('error', reject);
				});
			} catch {
				if (performance.now() > deadline) throw this.died(`no socket ${file} after ${limitMs} ms`);
				await sleep(5);
			}
		}
	}

	private async connectControl(limitMs: number): Promise<void> {
		this.ctl = await this.connectSocket(path.join(this.dir, 'ctl.sock'), limitMs);
		this.ctl.on('data', (d) => this.onControl(d.toString('latin1')));
		this.ctl.on('error', () => {});
	}

	private onControl(text: string): void {
		this.ctlBuffer += text;
		let nl: number;
		while ((nl = this.ctlBuffer.indexOf('\n')) >= 0) {
			const line = this.ctlBuffer.slice(0, nl);
			this.ctlBuffer = this.ctlBuffer.slice(nl + 1);
			const [verb, idText, a, b] = line.split(' ');
			const p = this.pending.get(Number(idText));
			if (verb === 'READY') this.readyWaiter?.();
			else if (verb === 'PID' && p) p.gotPid(Number(a));
			else if (verb === 'OUT' && p) {
				const bytes = Buffer.from(b ?? '', 'base64');
				(a === '1' ? p.stdout : p.stderr).push(bytes);
				p.output.push(bytes);
			} else if (verb === 'EXIT' && p) {
				this.pending.delete(Number(idText));
				const str = (bufs: Buffer[]) => Buffer.concat(bufs).toString('utf8');
				p.resolve({ status: Number(a), stdout: str(p.stdout), stderr: str(p.stderr), output: str(p.output), ms: performance.now() - p.started });
			} else if (verb === 'ERR' && p) {
				this.pending.delete(Number(idText));
				p.reject(new GuestError(`the guest agent refused the request: ${line.slice(4 + idText.length + 1)}`, this.events(), this.console));
			}
		}
	}

	private send(verb: string, fields: string[]): { id: number; promise: Promise<RunResult>; pending: Pending } {
		if (this.hasExited) {
			const err = this.died('the guest is not running');
			return { id: 0, promise: Promise.reject(err), pending: undefined as never };
		}
		const id = this.nextId++;
		let pending!: Pending;
		let gotPid!: (pid: number) => void;
		const pid = new Promise<number>((r) => (gotPid = r));
		const promise = new Promise<RunResult>((resolve, reject) => {
			pending = { resolve, reject, stdout: [], stderr: [], output: [], started: performance.now(), pid, gotPid };
		});
		this.pending.set(id, pending);
		this.ctl!.write(`${verb} ${id} ${fields.join(' ')}\n`);
		return { id, promise, pending };
	}

	/** Start a /bin/sh script in the guest and return at once. */
	spawn(script: string, options: RunOptions = {}): Running {
		const { id, promise, pending } = this.send('RUN', [String(options.uid ?? 0), Buffer.from(script).toString('base64')]);
		const running: Running = {
			id,
			pid: pending ? pending.pid : new Promise<number>(() => {}),
			output: () => (pending ? Buffer.concat(pending.output).toString('utf8') : ''),
			kill: (signal = 9) => {
				if (!this.hasExited) this.ctl?.write(`KILL ${id} ${signal}\n`);
			},
			result: promise,
		};
		const limit = options.timeoutMs ?? scaledMs(this.accel, 60_000);
		let timer: NodeJS.Timeout | undefined;
		const late = new Promise<never>((_, reject) => {
			if (limit === Infinity) return;
			timer = setTimeout(() => {
				running.kill(9);
				const events = this.events();
				reject(
					new CommandTimeout(
						`the command did not finish within ${limit} ms` +
							(events.length ? `\nKernel events: ${describeEvents(events)}` : '') +
							`\n--- command ---\n${script.trim()}\n--- its output so far ---\n${running.output()}` +
							`\n--- console ---\n${consoleExcerpt(this.console, events)}`,
						events,
						this.console,
						running.output(),
					),
				);
			}, limit);
		});
		running.result = Promise.race([promise, late]).finally(() => clearTimeout(timer));
		running.result.catch(() => {}); // the caller may only look at it later
		return running;
	}

	/** Run a /bin/sh script in the guest and wait for it. */
	run(script: string, options: RunOptions = {}): Promise<RunResult> {
		return this.spawn(script, options).result;
	}

	/** Write a file into the guest (where commands see it). */
	async put(guestPath: string, data: Buffer | string, mode = 0o644): Promise<void> {
		const body = typeof data === 'string' ? Buffer.from(data) : data;
		const limit = scaledMs(this.accel, 60_000);
		const deadline = performance.now() + limit;
		for (;;) {
			const { promise } = this.send('PUT', [mode.toString(8), Buffer.from(guestPath).toString('base64'), body.toString('base64')]);
			try {
				await this.within(promise, limit, `upload of ${guestPath}`);
				return;
			} catch (e) {
				// a FIFO nobody reads yet: the agent refuses rather than block; try again shortly
				const noReader = e instanceof GuestError && e.message.includes('No such device or address');
				if (!noReader || performance.now() > deadline) throw e;
				await sleep(20);
			}
		}
	}

	/** Copy a host file into the guest, keeping its executable bit. */
	async upload(hostPath: string, guestPath: string): Promise<void> {
		const data = readFileSync(hostPath);
		const exec = statSync(hostPath).mode & 0o111;
		await this.put(guestPath, data, exec ? 0o755 : 0o644);
	}

	/** Mount the host root (read-only 9p) and run every later command chrooted in it. */
	async mountHostRoot(): Promise<void> {
		const r = await this.run('/bin/lab-mount-hostroot');
		if (r.status !== 0) throw new GuestError(`mounting the host root failed (${r.status}): ${r.output}`, this.events(), this.console);
	}

	// ---- QMP: the machine protocol of QEMU's monitor, used to save and restore state ----

	async qmp<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
		if (!this.qmpSocket) {
			const s = await this.connectSocket(path.join(this.dir, 'qmp.sock'), scaledMs(this.accel, 30_000));
			let buffer = '';
			let greeted: () => void;
			const greeting = new Promise<void>((r) => (greeted = r));
			s.on('data', (d) => {
				buffer += d.toString();
				let nl: number;
				while ((nl = buffer.indexOf('\n')) >= 0) {
					const msg = JSON.parse(buffer.slice(0, nl));
					buffer = buffer.slice(nl + 1);
					if (msg.QMP) greeted();
					else if ('return' in msg || 'error' in msg) this.qmpQueue.shift()?.(msg);
				}
			});
			s.on('error', () => {});
			this.qmpSocket = s;
			await greeting;
			await this.qmp('qmp_capabilities');
		}
		return new Promise<T>((resolve, reject) => {
			this.qmpQueue.push((m) => (m.error ? reject(new Error(`QMP ${command}: ${m.error.desc}`)) : resolve(m.return as T)));
			this.qmpSocket!.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
		});
	}

	/** Stop the guest and write its whole state to a file, to be restored with options.incoming. */
	async saveState(file: string): Promise<void> {
		await this.qmp('stop');
		await this.qmp('migrate', { uri: `exec:cat > ${file}` });
		for (;;) {
			const m = await this.qmp<{ status?: string; 'error-desc'?: string }>('query-migrate');
			if (m.status === 'completed') return;
			if (m.status === 'failed') throw new Error(`saving the guest state failed: ${m['error-desc'] ?? 'unknown reason'}`);
			await sleep(10);
		}
	}

	private async resumeIncoming(limitMs: number): Promise<void> {
		const deadline = performance.now() + limitMs;
		for (;;) {
			const { status } = await this.qmp<{ status: string }>('query-status');
			if (status === 'paused' || status === 'postmigrate') {
				const m = await this.qmp<{ status?: string }>('query-migrate');
				if (m.status === 'completed') break;
			}
			if (status === 'running') return;
			if (performance.now() > deadline) throw this.died(`restoring the guest state took longer than ${limitMs} ms`);
			await sleep(5);
		}
		await this.qmp('cont');
		this.restored = true;
	}

	private restored = false;

	/**
	 * A restored guest has the saved clock and the saved RNG state: set the one, stir the other.
	 * Call once after start(); does nothing for a booted guest.
	 */
	async afterRestore(): Promise<void> {
		if (!this.restored) return;
		this.restored = false;
		const seed = randomBytes(64).toString('hex');
		// the time is taken as the command is sent, so a slow start does not set it late
		await this.run(`date -u -s @${Math.round(Date.now() / 1000)} >/dev/null; echo ${seed} > /dev/urandom`);
	}

	/** Kill QEMU (if still running) and remove its sockets. */
	async close(): Promise<void> {
		if (this.proc && !this.hasExited) {
			this.proc.kill('SIGKILL');
			await this.exited;
		}
		this.ctl?.destroy();
		this.qmpSocket?.destroy();
		rmSync(this.dir, { recursive: true, force: true });
	}
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
