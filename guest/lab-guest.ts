// The guest as spec authors use it: build and load a module, build and run a program, read the
// kernel log, watch a process's state, wait for a kernel event, all without ever waiting on a
// process that is stuck in the kernel (D state): those are polled through /proc.
import path from 'node:path';
import { type Built, buildModule, buildProgram, type ProgramOptions } from './build.js';
import { type EventKind, type KernelEvent, consoleExcerpt, describeEvents } from './console.js';
import { Guest, GuestError, type RunOptions, type RunResult, type Running, scaledMs, sleep } from './guest.js';

/**
 * The guest's module loader, by its path: busybox's sh runs its own insmod applet for a bare
 * "insmod" whatever PATH says, and that one runs a failing init twice (guest/agent/insmod.c).
 * With the host root mounted this path is the host's kmod insmod, which loads once as well.
 */
export const INSMOD = '/sbin/insmod';

const KERNEL_TAINT_LINES = ['loading out-of-tree module taints kernel.', 'module verification failed: signature and/or required key missing - tainting kernel'];
import { repoRoot, sourceRoot } from './paths.js';

/** Where uploads land in the guest. */
export const GUEST_WORKDIR = '/tmp/lab';

export interface LoadedModule {
	build: Built;
	/** The module's path in the guest. */
	path: string;
	name: string;
}

export class LabGuest extends Guest {
	/** Scale a TCG time limit to this guest's accelerator. */
	ms(tcgMs: number): number {
		return scaledMs(this.accel, tcgMs);
	}

	/** Build kernel/<dir> for the guest kernel and upload the .ko (fresh every time). */
	async prepareModule(dir: string): Promise<LoadedModule> {
		const build = await buildModule(path.join(sourceRoot, 'kernel', dir), this.image.kernelBuildDir);
		const name = path.basename(build.file, '.ko');
		const guestPath = `${GUEST_WORKDIR}/${name}.ko`;
		await this.upload(build.file, guestPath);
		return { build, path: guestPath, name };
	}

	/** Build, upload and insmod kernel/<dir> (with INSMOD), waiting for insmod to return. */
	async insmod(dir: string, params = '', options: RunOptions = {}): Promise<RunResult & { module: LoadedModule }> {
		const module = await this.prepareModule(dir);
		const result = await this.run(`exec ${INSMOD} ${module.path} ${params}`, options);
		return { ...result, module };
	}

	/** Like insmod, but returns at once: for a load that is expected to block or crash. */
	async startInsmod(dir: string, params = '', options: RunOptions = {}): Promise<Running & { module: LoadedModule }> {
		const module = await this.prepareModule(dir);
		// exec: the command's own pid is insmod's, so kill() and pidOf() reach insmod itself
		return { ...this.spawn(`exec ${INSMOD} ${module.path} ${params}`, options), module };
	}

	rmmod(name: string): Promise<RunResult> {
		return this.run(`rmmod ${name}`);
	}

	/** Build userspace/<dir> and upload it; returns its path in the guest. */
	async prepareProgram(dir: string, options: ProgramOptions = {}): Promise<{ build: Built; path: string }> {
		const build = await buildProgram(path.join(sourceRoot, 'userspace', dir), options);
		const guestPath = `${GUEST_WORKDIR}/${path.basename(build.file)}`;
		await this.upload(build.file, guestPath);
		return { build, path: guestPath };
	}

	/**
	 * Build one of the specs' own helper programs, fixtures/<dir> (static by default), from the
	 * repository itself: they are not student work, so LAB_SOURCE_ROOT does not swap them.
	 * Returns its path in the guest.
	 */
	async prepareFixtureProgram(dir: string, guestPath = `${GUEST_WORKDIR}/${path.basename(dir)}`, options: ProgramOptions = { static: true }): Promise<string> {
		const build = await buildProgram(path.join(repoRoot, 'fixtures', dir), options);
		if (build.warnings.length) throw new Error(`fixtures/${dir} must build without warnings:\n${build.warnings.join('\n')}`);
		await this.upload(build.file, guestPath);
		return guestPath;
	}

	/**
	 * Start a long-running program and wait until its output matches `ready`. It runs until the
	 * test ends (no time limit); if it ends before it is ready, that fails with its output.
	 */
	async startDaemon(command: string, ready: RegExp, what: string, tcgMs = 30_000): Promise<Running & { pidNumber: number }> {
		// exec: the command's pid is the program's, so kill() reaches the program itself
		const running = this.spawn(`exec ${command}`, { timeoutMs: Infinity });
		let ended: string | undefined;
		running.result.then(
			(r) => (ended = `exit ${r.status}`),
			(e: Error) => (ended = e.message),
		);
		await this.waitUntil(what, async () => {
			if (ready.test(running.output())) return true;
			if (ended) throw new GuestError(`${command} ended (${ended}) while waiting for ${what}:\n${running.output()}`, this.events(), this.console);
			return undefined;
		}, tcgMs);
		return { ...running, pidNumber: await running.pid };
	}

	/** Write a sysctl (e.g. "kernel/panic_on_oops" or "kernel.panic_on_oops"). */
	async sysctl(name: string, value: string | number): Promise<void> {
		const file = `/proc/sys/${name.replace(/\./g, '/')}`;
		const r = await this.run(`echo ${value} > ${file}`);
		if (r.status !== 0) throw new Error(`could not set ${file} to ${value}: ${r.output}`);
	}

	/** A module's state in /proc/modules ("Live", "Loading", "Unloading"), or undefined if absent. */
	async moduleState(name: string): Promise<string | undefined> {
		const r = await this.run('cat /proc/modules');
		return r.stdout
			.split('\n')
			.find((l) => l.split(' ')[0] === name)
			?.split(' ')[4];
	}

	/**
	 * The lines a module printed through pr_fmt ("name: ...") in the kernel log, prefix removed;
	 * without the two lines the kernel itself prints under the name of the first out-of-tree,
	 * unsigned module it loads (they are about the kernel's taint, not the module's work).
	 */
	async moduleLog(name: string): Promise<string[]> {
		const prefix = `${name}: `;
		return (await this.dmesg())
			.split('\n')
			.filter((l) => l.startsWith(prefix))
			.map((l) => l.slice(prefix.length))
			.filter((l) => !KERNEL_TAINT_LINES.includes(l));
	}

	/** The kernel log as the guest sees it (dmesg), timestamps removed. */
	async dmesg(): Promise<string> {
		const r = await this.run('dmesg');
		return r.stdout.replace(/^\[\s*\d+\.\d+\] ?/gm, '');
	}

	/** The state letter of a process (R, S, D, Z, ...) from /proc, or undefined once it is gone. */
	async procState(pid: number): Promise<string | undefined> {
		const r = await this.run(`cat /proc/${pid}/stat 2>/dev/null`);
		// the name field is in parentheses and may hold spaces: the state follows the last ')'
		const m = /\) (\S)/.exec(r.stdout.slice(r.stdout.lastIndexOf(')')));
		return m?.[1];
	}

	/** Pids of processes with this exact name (busybox pidof), oldest first. */
	async pidsOf(name: string): Promise<number[]> {
		const r = await this.run(`pidof ${name}`);
		return r.stdout.split(/\s+/).filter(Boolean).map(Number).sort((a, b) => a - b);
	}

	/** Poll `check` until it returns a value other than undefined. */
	async waitUntil<T>(what: string, check: () => Promise<T | undefined>, tcgMs = 30_000, everyMs = 50): Promise<T> {
		const limit = this.ms(tcgMs);
		const deadline = performance.now() + limit;
		for (;;) {
			const value = await check();
			if (value !== undefined) return value;
			if (performance.now() > deadline) {
				throw new GuestError(`gave up waiting ${limit} ms for ${what}\n--- console ---\n${consoleExcerpt(this.console)}`, this.events(), this.console);
			}
			await sleep(everyMs);
		}
	}

	/** Wait until the process is in one of `states` (e.g. 'D'); returns the state seen. */
	waitForState(pid: number, states: string, tcgMs = 30_000): Promise<string> {
		return this.waitUntil(`process ${pid} to be in state ${states.split('').join(' or ')}`, async () => {
			const s = await this.procState(pid);
			return s && states.includes(s) ? s : undefined;
		}, tcgMs);
	}

	/**
	 * Wait for a kernel event of this kind on the console (an oops is printed a little after the
	 * faulting command returns). Resolves early if the guest exits: the event may be in the panic.
	 */
	async waitForEvent<K extends EventKind>(
		kind: K,
		match: (e: Extract<KernelEvent, { kind: K }>) => boolean = () => true,
		tcgMs = 30_000,
	): Promise<Extract<KernelEvent, { kind: K }>> {
		const find = () => this.events().find((e): e is Extract<KernelEvent, { kind: K }> => e.kind === kind && match(e as Extract<KernelEvent, { kind: K }>));
		const limit = this.ms(tcgMs);
		const deadline = performance.now() + limit;
		for (;;) {
			const e = find();
			if (e) return e;
			if (this.hasExited || performance.now() > deadline) {
				const seen = this.events();
				throw new GuestError(
					`expected a kernel "${kind}" event within ${limit} ms; ${seen.length ? `saw: ${describeEvents(seen)}` : 'the console shows none'}` +
						`${this.hasExited ? ' (the guest has exited)' : ''}\n--- console ---\n${consoleExcerpt(this.console, seen)}`,
					seen,
					this.console,
				);
			}
			await sleep(20);
		}
	}
}
