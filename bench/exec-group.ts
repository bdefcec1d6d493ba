// Groups 3 and 4, the exec path in one guest: what an exec costs with execgate loaded, with its
// relay answering from its cache, with clamd scanning a program never seen before, and on the
// fanotify route of lesson 4.7; then execs per second through module + relay with several
// concurrent loops, every answer checked. Each figure is compared, as a ratio, with a bare exec
// in the same guest. The timing happens in the guest (bench/guest/execloop): a host round trip through the
// agent (~5 ms under TCG) would hide a ~1.5 ms exec.
//
// The chapter 4 helpers do the setup, as in the lessons: loadExecgate, startClamdInGuest,
// startRelay (the bundled clamav/relay.ts), the exec-fanotify program.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startClamdInGuest, type GuestClamd } from '../clamav/daemon.js';
import { baseDatabase, databaseOf, hdbLine } from '../clamav/samples.js';
import type { GuestImage, Running } from '../guest/guest.js';
import { LabGuest } from '../guest/lab-guest.js';
import { cachePath, progress } from '../guest/paths.js';
import { MODULE, decisionsIn, loadExecgate, prepareFixture, setParam, startDevrelay, startRelay } from '../specs/04-lsm/support.js';
import { type Figure, type Recorder, formatValue } from './figures.js';
import { saveSnapshot } from './image.js';
import { buildExecloop, buildExitWith } from './programs.js';

const EXEC = 'exec';
const THROUGHPUT = 'throughput';
/** Where the bench's programs go in the guest (tmpfs under the host root). */
const DIR = '/tmp/lab/bench';
const FRESH = `${DIR}/fresh`;
const REFUSED_SIGNATURE = 'Bench.Refused';

/** Execs per timed run of one program; for programs never seen, how many new copies per run. */
const SAME_PROGRAM_EXECS = 200;
const GLIBC_EXECS = 100;
/** Each exec on the fanotify route is a clamd scan: fewer of them. */
const FANOTIFY_EXECS = 50;
const SIZES = [
	{ tag: 'small', label: 'small, 10 KB', bytes: 0, copies: 8 },
	{ tag: '1m', label: '1 MiB', bytes: 1 << 20, copies: 4 },
	{ tag: '10m', label: '10 MiB', bytes: 10 << 20, copies: 2 },
] as const;
type Size = (typeof SIZES)[number];
const LOOPS = [1, 2, 8] as const;
const GUEST_MEMORY_MIB = 512;
/** Execs per throughput run, whatever the number of loops. */
const THROUGHPUT_EXECS = 240;

interface LoopResult {
	execs: number;
	ok: number;
	wrong: number;
	perSec: number;
	medianMs: number;
	/** The "wrong ..." lines: which exec got which answer. */
	wrongLines: string[];
}

/** The relay's decisions so far, and the answers the module did not take (the exec no longer waited). */
function answersIn(output: string): { decisions: number; notTaken: number } {
	return { decisions: decisionsIn(output).length, notTaken: (output.match(/^relay: answer for serial \d+ not taken/gm) ?? []).length };
}

/** Run execloop in the guest and parse its figures. */
async function execloop(guest: LabGuest, args: string): Promise<LoopResult> {
	const r = await guest.run(`${DIR}/execloop ${args}`, { timeoutMs: guest.ms(600_000) });
	const m = /^execloop loops=\d+ execs=(\d+) ok=(\d+) wrong=(\d+) wall_us=\d+ per_sec=([\d.]+) median_us=([\d.]+)/m.exec(r.stdout);
	if (!m || r.status > 1) throw new Error(`execloop ${args} failed (status ${r.status}):\n${r.output}`);
	return {
		execs: Number(m[1]),
		ok: Number(m[2]),
		wrong: Number(m[3]),
		perSec: Number(m[4]),
		medianMs: Number(m[5]) / 1000,
		wrongLines: r.stdout.split('\n').filter((l) => l.startsWith('wrong ')),
	};
}

/** Counts the wrong execs of a figure's runs, for its note; a wrong exec is also printed. */
class WrongCount {
	total = 0;
	add(r: LoopResult, what: string): LoopResult {
		this.total += r.wrong;
		for (const line of r.wrongLines) progress(`${what}: ${line}`);
		return r;
	}
	note(): string | undefined {
		return this.total ? `${this.total} execs did not end as expected` : undefined;
	}
}

/** The log of whatever decides (relay or exec-fanotify): one line per decision, with its time. */
type DeciderOutput = () => string;

/** The times from query to verdict the decider logged for these paths since its decision number `from`. */
function decisionTimes(output: DeciderOutput | undefined, from: number, paths: string[]): number[] {
	if (!output) return [];
	return decisionsIn(output())
		.slice(from)
		.filter((d) => paths.some((p) => d.path === JSON.stringify(p)))
		.map((d) => d.ms);
}

function medianNote(ms: number[]): string | undefined {
	if (!ms.length) return undefined;
	const sorted = [...ms].sort((a, b) => a - b);
	return `its log: median ${formatValue(sorted[Math.floor(sorted.length / 2)]!)} ms from query to verdict`;
}

interface PerExec {
	name: string;
	runs: number;
	program: string;
	execs: number;
	deciderOutput?: DeciderOutput;
	note?: string;
}

/** Exec the same program again and again, `runs` times; each run gives its median per exec. */
async function perExec(rec: Recorder, guest: LabGuest, o: PerExec): Promise<Figure> {
	const wrong = new WrongCount();
	const samples: number[] = [];
	const decisionMs: number[] = [];
	for (let run = 0; run < o.runs; run++) {
		const from = o.deciderOutput ? decisionsIn(o.deciderOutput()).length : 0;
		samples.push(wrong.add(await execloop(guest, `-n ${o.execs} ${o.program}`), o.name).medianMs);
		decisionMs.push(...decisionTimes(o.deciderOutput, from, [o.program]));
	}
	return rec.record(EXEC, o.name, 'ms', samples, [`each run the median of ${o.execs}`, o.note, medianNote(decisionMs), wrong.note()].filter(Boolean).join('; '));
}

/**
 * Execs of programs never seen before, one figure: each run makes new copies and executes each
 * once. Runs are taken one at a time, so several series can alternate run by run.
 */
class FirstSeenSeries {
	private readonly wrong = new WrongCount();
	private readonly samples: number[] = [];
	private readonly decisionMs: number[] = [];

	constructor(
		readonly name: string,
		readonly size: Size,
		/** Names the copies apart from other series'. */
		readonly tag: string,
		readonly note?: string,
	) {}

	async run(guest: LabGuest, run: number, deciderOutput?: DeciderOutput): Promise<void> {
		const paths = await freshCopies(guest, this.size, this.tag, run);
		const from = deciderOutput ? decisionsIn(deciderOutput()).length : 0;
		const result = this.wrong.add(await execloop(guest, paths.join(' ')), this.name);
		this.samples.push(result.medianMs);
		this.decisionMs.push(...decisionTimes(deciderOutput, from, paths));
		if (result.wrong && deciderOutput) {
			// why: the decider's own lines for these copies (a timeout, clamd's error...)
			for (const d of decisionsIn(deciderOutput()).slice(from)) if (paths.some((p) => d.path === JSON.stringify(p))) progress(`${this.name}: ${d.line}`);
		}
		await guest.run(`rm -rf ${FRESH}`);
	}

	record(rec: Recorder): Figure {
		return rec.record(EXEC, this.name, 'ms', this.samples, [`${this.size.copies} new copies per run`, this.note, medianNote(this.decisionMs), this.wrong.note()].filter(Boolean).join('; '));
	}
}

/** One way an exec reaches clamd, switched on for a run and off after it. */
interface Route {
	tag: string;
	label: string;
	note: string;
	/** Make this route the one that decides; returns its log. */
	enter(): Promise<DeciderOutput>;
	leave(): Promise<void>;
}

/**
 * First-seen execs through each route, the routes taking turns run by run: on a shared machine
 * the load changes from minute to minute, and a comparison of routes measured minutes apart
 * would measure that instead.
 */
async function firstSeenByRoute(rec: Recorder, guest: LabGuest, routes: Route[], runs: number): Promise<Map<string, Figure>> {
	const figures = new Map<string, Figure>();
	for (const size of SIZES) {
		const series = routes.map((r) => new FirstSeenSeries(`${r.label}, first seen (${size.label})`, size, r.tag, r.note));
		for (let run = 0; run < runs; run++) {
			for (const [i, route] of routes.entries()) {
				const output = await route.enter();
				try {
					await series[i]!.run(guest, run, output);
				} finally {
					await route.leave();
				}
			}
		}
		for (const [i, route] of routes.entries()) figures.set(`${route.tag}/${size.tag}`, series[i]!.record(rec));
	}
	return figures;
}

/** The bench's programs, built on the host. */
async function buildBenchPrograms(): Promise<{ execloop: string; exitWith: string; refused: Buffer }> {
	const [loop, exitWith] = await Promise.all([buildExecloop(), buildExitWith()]);
	// a copy of exit-with that only the bench's own signature refuses: the throughput loops
	// run it as a clean copy on a bare guest and must see it refused through the relay
	const refused = Buffer.concat([readFileSync(exitWith.file), Buffer.from('\nkernel-security-lab bench: refused by Bench.Refused\n')]);
	return { execloop: loop.file, exitWith: exitWith.file, refused };
}

/** The chapter's base database plus a hash signature of the refused copy. */
async function benchDatabase(refused: Buffer): Promise<string> {
	const base = await baseDatabase();
	const files: Record<string, string> = {};
	for (const f of readdirSync(base)) files[f] = readFileSync(path.join(base, f), 'utf8');
	const refusedFile = cachePath('bench', 'refused-exit-with');
	writeFileSync(refusedFile, refused);
	files['bench.hdb'] = `${hdbLine(refusedFile, REFUSED_SIGNATURE)}\n`;
	return databaseOf(files);
}

const QUIET_NOTE = "console loglevel 4: the module's lines reach the kernel log, not the serial console";

/** Run `measure` with the console at loglevel 4, then back at the harness's 7. */
async function quietConsole<T>(guest: LabGuest, measure: () => Promise<T>): Promise<T> {
	await guest.run('echo 4 > /proc/sys/kernel/printk');
	try {
		return await measure();
	} finally {
		await guest.run('echo 7 > /proc/sys/kernel/printk');
	}
}

/** Make `size.copies` programs of this size no scan has seen (distinct bytes at the end); their paths. */
async function freshCopies(guest: LabGuest, size: Size, route: string, run: number): Promise<string[]> {
	const paths = Array.from({ length: size.copies }, (_, i) => `${FRESH}/${route}-${size.tag}-${run}-${i}`);
	const r = await guest.run(
		`mkdir -p ${FRESH} && for f in ${paths.join(' ')}; do cp ${DIR}/base-${size.tag} $f && echo "$f" >> $f || exit 1; done`,
		{ timeoutMs: guest.ms(120_000) },
	);
	if (r.status !== 0) throw new Error(`making fresh copies failed: ${r.output}`);
	return paths;
}

/** Execs per second through module + relay, 1, 2 and 8 loops, every answer checked (group 4). */
async function relayThroughput(
	rec: Recorder,
	guest: LabGuest,
	relayOutput: DeciderOutput,
	programs: { exitWith: string; refused: string },
	bareLoops: Map<number, Figure>,
	runs: number,
): Promise<void> {
	for (const loops of LOOPS) {
		const name = `module + relay, ${loopsLabel(loops)}`;
		const badAnswers: number[] = [];
		const figure = await rec.measure(
			THROUGHPUT,
			name,
			'execs/s',
			runs,
			async () => {
				const before = answersIn(relayOutput());
				const r = await execloop(guest, `-j ${loops} -n ${THROUGHPUT_EXECS / 2 / loops} ${programs.exitWith} -${programs.refused}`);
				for (const line of r.wrongLines) progress(`${name}: ${line}`);
				// the relay logs each decision before it answers; its output may trail the loop's
				const after = await guest
					.waitUntil('the relay to log every decision', async () => {
						const now = answersIn(relayOutput());
						return now.decisions - before.decisions >= r.execs ? now : undefined;
					}, 5_000)
					.catch(() => answersIn(relayOutput()));
				const lost = Math.max(0, r.execs - (after.decisions - before.decisions)) + (after.notTaken - before.notTaken);
				badAnswers.push(r.wrong + lost);
				return r.perSec;
			},
			'cached verdicts; half the execs are a copy the relay refuses',
		);
		rec.record(
			THROUGHPUT,
			`${name}: lost or mismatched answers`,
			'count',
			badAnswers,
			`of ${THROUGHPUT_EXECS} execs per run; mismatched: a clean exec refused or the refused copy run; lost: an exec without a decision, or an answer the module no longer took`,
		);
		rec.ratio(THROUGHPUT, `relay / bare, ${loopsLabel(loops)}`, figure, bareLoops.get(loops)!);
	}
	rec.ratio(THROUGHPUT, 'relay 8 loops / relay 1 loop', rec.find(THROUGHPUT, `module + relay, ${loopsLabel(8)}`)!, rec.find(THROUGHPUT, `module + relay, ${loopsLabel(1)}`)!);
}

const loopsLabel = (loops: number) => `${loops} loop${loops > 1 ? 's' : ''}`;

export async function execFigures(rec: Recorder, image: GuestImage, scratch: string, runs: number): Promise<void> {
	const programs = await buildBenchPrograms();
	const database = await benchDatabase(programs.refused);
	// restored like a lesson's guest, with room for node, clamd, the 10 MiB copies on tmpfs and
	// clamd's copy of each stream: in 256 MiB the page cache thrashes and a scan can take 20 s
	const snapshot = await saveSnapshot(image, scratch, GUEST_MEMORY_MIB);
	const guest = await LabGuest.start(image, { incoming: snapshot, memoryMiB: GUEST_MEMORY_MIB });
	let clamd: GuestClamd | undefined;
	try {
		await guest.afterRestore();
		await guest.mountHostRoot();
		await guest.run(`mkdir -p ${DIR}`);
		await guest.upload(programs.execloop, `${DIR}/execloop`);
		await guest.upload(programs.exitWith, `${DIR}/exit-with`);
		await guest.put(`${DIR}/refused`, programs.refused, 0o755);
		const glibc = await prepareFixture(guest, 'hello-exec', `${DIR}/hello-exec`);
		// the big programs: exit-with padded with random bytes (exec maps only its segments; a scan reads all)
		for (const size of SIZES) {
			const make = size.bytes
				? `head -c $((${size.bytes} - $(stat -c %s ${DIR}/exit-with))) /dev/urandom | cat ${DIR}/exit-with - > ${DIR}/base-${size.tag} && chmod 755 ${DIR}/base-${size.tag}`
				: `cp ${DIR}/exit-with ${DIR}/base-${size.tag}`;
			const r = await guest.run(make);
			if (r.status !== 0) throw new Error(`making the ${size.label} program failed: ${r.output}`);
		}
		const exitWith = `${DIR}/exit-with`;
		const refused = `${DIR}/refused`;
		const sizeNote = `exit-with (bench/guest/exit-with, ${readFileSync(programs.exitWith).length} bytes, no C library)`;

		// --- bare: no module, no relay ---
		const bare = await perExec(rec, guest, { name: 'bare exec, same program', runs, program: exitWith, execs: SAME_PROGRAM_EXECS, note: `${sizeNote}; one exec is fork + execve + waitpid` });
		const bareFreshSeries = new FirstSeenSeries('bare exec, never-run copy (small)', SIZES[0], 'bare', 'under TCG the new code pages are translated again');
		for (let run = 0; run < runs; run++) await bareFreshSeries.run(guest, run);
		const bareFresh = bareFreshSeries.record(rec);
		const bareGlibc = await perExec(rec, guest, { name: 'bare exec, static glibc program', runs, program: glibc, execs: GLIBC_EXECS, note: 'fixtures/lsm/hello-exec, static glibc, ~770 KB' });
		const bareLoops = new Map<number, Figure>();
		for (const loops of LOOPS) {
			bareLoops.set(
				loops,
				await rec.measure(THROUGHPUT, `bare, ${loopsLabel(loops)}`, 'execs/s', runs, async () => (await execloop(guest, `-j ${loops} -n ${THROUGHPUT_EXECS / 2 / loops} ${exitWith} ${refused}`)).perSec, 'both programs run (no module)'),
			);
		}

		// --- execgate loaded, nobody registered on /dev/execgate: each exec is logged and allowed ---
		await loadExecgate(guest, 'timeout_ms=30000');
		const noRelay = await perExec(rec, guest, { name: 'module loaded, no relay', runs, program: exitWith, execs: SAME_PROGRAM_EXECS, note: 'two log lines per exec on the serial console (the harness keeps console loglevel 7)' });
		const noRelayQuiet = await quietConsole(guest, () => perExec(rec, guest, { name: 'module loaded, no relay, quiet console', runs, program: exitWith, execs: SAME_PROGRAM_EXECS, note: QUIET_NOTE }));

		// the device round trip alone: the specs' own relay in C, no clamd, no cache, allows all
		const devrelayPath = await prepareFixture(guest, 'devrelay', `${DIR}/devrelay`);
		const devrelay = await startDevrelay(guest, devrelayPath, '');
		const cRelay = await perExec(rec, guest, { name: 'module + C relay (devrelay), allows everything', runs, program: exitWith, execs: SAME_PROGRAM_EXECS, note: 'fixtures/lsm/devrelay: the query, one read and one write, two output lines; no clamd' });
		devrelay.kill(15);
		await devrelay.result.catch(() => {});

		// --- execgate + relay + clamd ---
		clamd = await startClamdInGuest(guest, { databaseDir: database });
		const relay = await startRelay(guest, `--clamd ${clamd.socket} --scan-timeout-ms 20000`);
		// an answer that never comes must show: without one the exec is refused
		await setParam(guest, 'fail_closed', 1);
		const warm = await execloop(guest, `${exitWith} ${glibc} -${refused}`);
		if (warm.wrong) throw new Error(`the relay does not answer as expected:\n${warm.wrongLines.join('\n')}\n--- relay ---\n${relay.output().slice(-2000)}`);
		const cached = await perExec(rec, guest, { name: 'module + relay, cached verdict', runs, program: exitWith, execs: SAME_PROGRAM_EXECS, deciderOutput: relay.output });
		const cachedGlibc = await perExec(rec, guest, { name: 'module + relay, cached verdict, static glibc program', runs, program: glibc, execs: GLIBC_EXECS, deciderOutput: relay.output });
		const cachedQuiet = await quietConsole(guest, () => perExec(rec, guest, { name: 'module + relay, cached verdict, quiet console', runs, program: exitWith, execs: SAME_PROGRAM_EXECS, deciderOutput: relay.output, note: QUIET_NOTE }));

		// the module's own verdict cache (kernel/execgate/cache.c, cache=1 with pass_fd=1): the first
		// exec of the unchanged file asks the relay, the others are allowed inside the kernel
		await setParam(guest, 'pass_fd', 1);
		await setParam(guest, 'cache', 1);
		const askedBefore = decisionsIn(relay.output()).length;
		const moduleCacheNote = 'module parameter cache=1, pass_fd=1';
		const moduleCached = await perExec(rec, guest, { name: 'module verdict cache (cache=1)', runs, program: exitWith, execs: SAME_PROGRAM_EXECS, note: moduleCacheNote });
		const moduleCachedQuiet = await quietConsole(guest, () => perExec(rec, guest, { name: 'module verdict cache (cache=1), quiet console', runs, program: exitWith, execs: SAME_PROGRAM_EXECS, note: `${moduleCacheNote}; ${QUIET_NOTE}` }));
		progress(`module verdict cache: the relay was asked ${decisionsIn(relay.output()).length - askedBefore} times in ${2 * runs * SAME_PROGRAM_EXECS} execs`);
		await setParam(guest, 'cache', 0);
		await setParam(guest, 'pass_fd', 0);

		await relayThroughput(rec, guest, relay.output, { exitWith, refused }, bareLoops, runs);

		// first seen: the relay by path, the relay with pass_fd=1 (lesson 4.8: it streams the handed
		// descriptor), and exec-fanotify (lesson 4.7: clamd gets the descriptor), taking turns. For
		// fanotify's turn the module stays loaded with ask=0: its hook only logs. The console is quiet
		// for all three, so that log line costs next to nothing.
		const fanotifyProgram = await guest.prepareProgram('exec-fanotify', { static: true });
		const clamdSocket = clamd.socket;
		const routes: Route[] = [
			{ tag: 'relay', label: 'module + relay + clamd', note: "SCAN by path in the relay's IDSESSION", enter: async () => relay.output, leave: async () => {} },
			{
				tag: 'relay-fd',
				label: 'module + relay + clamd, pass_fd=1',
				note: 'INSTREAM of the handed descriptor',
				enter: async () => {
					await setParam(guest, 'pass_fd', 1);
					return relay.output;
				},
				leave: () => setParam(guest, 'pass_fd', 0),
			},
			(() => {
				let running: Running | undefined;
				return {
					tag: 'fanotify',
					label: 'fanotify + clamd',
					note: 'FILDES on a new connection; execgate loaded with ask=0',
					enter: async () => {
						await setParam(guest, 'ask', 0);
						running = await guest.startDaemon(`${fanotifyProgram.path} --clamd ${clamdSocket} --timeout-ms 20000 / /tmp`, /^exec-fanotify: ready /m, 'exec-fanotify to watch the mounts');
						return running.output;
					},
					leave: async () => {
						running?.kill(15);
						await running?.result.catch(() => {});
						await setParam(guest, 'ask', 1);
					},
				};
			})(),
		];
		const fresh = await quietConsole(guest, () => firstSeenByRoute(rec, guest, routes, runs));
		const firstSeenFigure = (route: string, size: Size) => fresh.get(`${route}/${size.tag}`)!;

		// back to fail-open first: with fail_closed=1 and no relay not even the agent's shell could start
		await setParam(guest, 'fail_closed', 0);
		relay.kill(15);
		const stopped = await relay.result;
		if (stopped.status !== 0) progress(`the relay exited with ${stopped.status}: ${stopped.output.slice(-500)}`);
		const rmmod = await guest.rmmod(MODULE);
		if (rmmod.status !== 0) throw new Error(`rmmod ${MODULE} (status ${rmmod.status}): ${rmmod.output}`);

		// --- the fanotify route of lesson 4.7 alone: no module, FAN_OPEN_EXEC_PERM, clamd by descriptor ---
		const fanotify = await guest.startDaemon(`${fanotifyProgram.path} --clamd ${clamd.socket} --timeout-ms 20000 / /tmp`, /^exec-fanotify: ready /m, 'exec-fanotify to watch the mounts');
		const fanSame = await perExec(rec, guest, { name: 'fanotify + clamd, same program', runs, program: exitWith, execs: FANOTIFY_EXECS, deciderOutput: fanotify.output, note: 'no module; the route has no cache of its own: clamd hashes the file and answers from its cache' });
		fanotify.kill(15);
		await fanotify.result.catch(() => {});

		// the same bare loop again: how far the guest drifted while the rest ran
		const bareEnd = await perExec(rec, guest, { name: 'bare exec, same program, again at the end', runs, program: exitWith, execs: SAME_PROGRAM_EXECS });

		rec.ratio(EXEC, 'module, no relay / bare', noRelay, bare);
		rec.ratio(EXEC, 'module, no relay, quiet console / bare', noRelayQuiet, bare);
		rec.ratio(EXEC, 'C relay (devrelay) / bare', cRelay, bare);
		rec.ratio(EXEC, 'cached verdict / bare', cached, bare);
		rec.ratio(EXEC, 'cached verdict, quiet console / bare', cachedQuiet, bare);
		rec.ratio(EXEC, 'cached verdict / bare, static glibc program', cachedGlibc, bareGlibc);
		rec.ratio(EXEC, 'module verdict cache / bare', moduleCached, bare);
		rec.ratio(EXEC, 'module verdict cache, quiet console / bare', moduleCachedQuiet, bare);
		for (const size of SIZES) rec.ratio(EXEC, `relay first seen / bare (${size.label})`, firstSeenFigure('relay', size), bare);
		rec.ratio(EXEC, 'relay first seen / bare never-run copy (small)', firstSeenFigure('relay', SIZES[0]), bareFresh);
		rec.ratio(EXEC, 'fanotify same program / bare', fanSame, bare);
		for (const size of SIZES) rec.ratio(EXEC, `fanotify first seen / bare (${size.label})`, firstSeenFigure('fanotify', size), bare);
		for (const size of SIZES) rec.ratio(EXEC, `relay first seen / fanotify first seen (${size.label})`, firstSeenFigure('relay', size), firstSeenFigure('fanotify', size));
		for (const size of SIZES) rec.ratio(EXEC, `relay first seen, pass_fd=1 / fanotify first seen (${size.label})`, firstSeenFigure('relay-fd', size), firstSeenFigure('fanotify', size));
		rec.ratio(EXEC, 'bare at the end / bare at the start', bareEnd, bare);
	} finally {
		await clamd?.stop().catch(() => {});
		await guest.close();
	}
}
