// Path names that are hard to carry: spaces, a newline, bytes that are not UTF-8, a 255-byte
// component, a path of exactly 4095 bytes (the longest d_path() can give), one longer than
// PATH_MAX, a deleted file, a memfd, a file on the host root (9p) and on tmpfs.
//
// Fault: hostile names, and an attacker who executes a deleted program while a clean file sits
// at "<its old path> (deleted)", the name d_path() gives an unlinked file.
// Proves: the query line's encoding (the path as hex, "-" when it has no name) brings every name
// to the relay byte for byte, and the relay decides right: by clamd's verdict when it can scan
// the file, by --on-error deny when the name leads nowhere, and with pass_fd=1 by the very file
// being executed, whatever its name. A chrooted exec: d_path() names the file from the chroot,
// and the relay must scan that file, not the one the same name gives in its own root.
import { describe, expect, test } from 'vitest';
import { startClamdInGuest } from '../../clamav/daemon.js';
import { baseDatabase, buildMarker } from '../../clamav/samples.js';
import { GUEST_WORKDIR } from '../../guest/lab-guest.js';
import { PARAMS, type StartedRelay, decisionsIn, loadExecgate, moduleLog, prepareFixture, startRelay } from '../04-lsm/support.js';
import { expectHealthyKernel, figure, printfPath, quoteBytes, withGuests } from './support.js';

const DIR = GUEST_WORKDIR;

/** A path of exactly `length` bytes under `base`, in components of at most 255 bytes. */
function pathOfLength(base: string, length: number): string {
	let p = base;
	let i = 0;
	while (p.length < length) {
		const room = length - p.length - 1; // the '/'
		const take = Math.min(255, room);
		// never leave a last component that is too short to be a name of its own
		const part = room - take > 0 && room - take < 2 ? take - 2 : take;
		p += `/${String(i++ % 10).repeat(part)}`;
	}
	return p;
}

interface Case {
	what: string;
	/** Shell lines that put the program in place (from $SRC, the clean or the marker copy). */
	setup: (src: string) => string;
	/** The shell command that executes it. */
	run: string;
	/** The path the relay must receive, or undefined for "-" (no usable name). */
	path: Buffer | undefined;
	/** Whether a path scan can reach the executed file (else --on-error deny decides without pass_fd). */
	scannableByPath: boolean;
}

describe('hard path names', () => {
	test('spaces, newlines, non-UTF-8, 255-byte components, 4095-byte and longer paths, deleted files, memfd, 9p and tmpfs: the relay gets each name intact and decides right, with and without pass_fd', { timeout: 300_000 }, async ({ onTestFinished }) => {
		await withGuests('hard paths', async (vm) => {
			const guest = await vm.guest({ hostRoot: true });
			const [database, marker] = await Promise.all([baseDatabase(), buildMarker()]);
			await loadExecgate(guest, 'timeout_ms=30000');
			const clamd = await startClamdInGuest(guest, { databaseDir: database });
			const fuzz = (await guest.prepareProgram('execgate-fuzz', { static: true })).path;
			await prepareFixture(guest, 'hello-exec', `${DIR}/clean`);
			await guest.upload(marker.file, `${DIR}/marker`);
			await guest.run(`chmod +x ${DIR}/marker`);
			const relay: StartedRelay = await startRelay(guest, `--clamd ${clamd.socket}`);
			let execs = 0;

			const cases = (round: string): Case[] => {
				const d = `${DIR}/${round}`;
				const spaced = `${d}/with space/a b`;
				const newline = Buffer.from(`${d}/new\nline`);
				const bytes = Buffer.concat([Buffer.from(`${d}/bytes-`), Buffer.from([0xff, 0x80, 0xc3]), Buffer.from('.bin')]);
				const long255 = `${d}/${'n'.repeat(255)}`;
				const max = pathOfLength(`${d}/max`, 4095);
				const over = `${d}/over`;
				const deleted = `${d}/deleted`;
				return [
					{ what: 'a space in a folder and in the name', setup: (s) => `mkdir -p '${d}/with space' && cp ${s} '${spaced}'`, run: `'${spaced}'`, path: Buffer.from(spaced), scannableByPath: true },
					{ what: 'a newline', setup: (s) => `cp ${s} ${printfPath(newline)}`, run: printfPath(newline), path: newline, scannableByPath: true },
					{ what: 'bytes that are not UTF-8 (ff 80 c3)', setup: (s) => `cp ${s} ${printfPath(bytes)}`, run: printfPath(bytes), path: bytes, scannableByPath: true },
					{ what: 'a 255-byte component', setup: (s) => `cp ${s} ${long255}`, run: long255, path: Buffer.from(long255), scannableByPath: true },
					{ what: 'a path of exactly 4095 bytes', setup: (s) => `mkdir -p ${max.slice(0, max.lastIndexOf('/'))} && cp ${s} ${max}`, run: max, path: Buffer.from(max), scannableByPath: true },
					{
						what: 'a path longer than PATH_MAX (no usable name: "-")',
						// built and run one folder at a time: no single name is that long
						setup: (s) => `mkdir -p ${over} && cd ${over} && i=0 && while [ $i -lt 17 ]; do mkdir ${'o'.repeat(250)} && cd -P ${'o'.repeat(250)} || exit 1; i=$((i+1)); done && cp ${s} ./prog`,
						run: `cd ${over} && i=0 && while [ $i -lt 17 ]; do cd -P ${'o'.repeat(250)}; i=$((i+1)); done && ./prog`,
						path: undefined,
						scannableByPath: false,
					},
					{ what: 'a deleted file (execveat of an unlinked file)', setup: (s) => `cp ${s} ${deleted}`, run: `${fuzz} deleted-exec ${deleted}`, path: Buffer.from(`${deleted} (deleted)`), scannableByPath: false },
					{ what: 'a memfd (fexecve)', setup: () => 'true', run: `${fuzz} memfd-exec SRC`, path: Buffer.from('/memfd:lab-memfd (deleted)'), scannableByPath: false },
				];
			};

			/** What each program should come to. */
			interface Run {
				c: Case;
				src: 'clean' | 'marker';
				passFd: 0 | 1;
				/** Allowed, and why. */
				allow: boolean;
				verdict: 'clean' | 'found' | 'error';
			}
			// the deleted-file trick: a clean decoy at "<path> (deleted)" must not clear the deleted
			// marker that is executed (without pass_fd the relay cannot scan it; with it, it scans the open file)
			const decoyCase = (d: string): Case => ({
				what: `a deleted marker with a clean file at "${d}/prog (deleted)"`,
				setup: (s) => `mkdir -p ${d} && cp ${s} ${d}/prog && cp ${DIR}/clean '${d}/prog (deleted)'`,
				run: `${fuzz} deleted-exec ${d}/prog`,
				path: Buffer.from(`${d}/prog (deleted)`),
				scannableByPath: false,
			});
			// the host root (9p, read-only): a clean host program, and the marker as built on the host
			const hostCase = (file: string, args = ''): Case => ({ what: `${file} on the host root (9p)`, setup: () => 'true', run: `${file} ${args}`, path: Buffer.from(file), scannableByPath: true });

			for (const passFd of [0, 1] as const) {
				await guest.run(`echo ${passFd} > ${PARAMS}/pass_fd`);
				const runs: Run[] = [];
				for (const src of ['clean', 'marker'] as const) {
					for (const c of cases(`p${passFd}${src}`)) {
						const byContent = passFd === 1 || c.scannableByPath;
						runs.push({ c, src, passFd, allow: src === 'clean' && byContent, verdict: byContent ? (src === 'clean' ? 'clean' : 'found') : 'error' });
					}
				}
				runs.push({ c: decoyCase(`${DIR}/decoy${passFd}`), src: 'marker', passFd, allow: false, verdict: passFd ? 'found' : 'error' });
				if (passFd === 0) {
					runs.push({ c: hostCase('/usr/bin/echo', 'hello-exec ran'), src: 'clean', passFd, allow: true, verdict: 'clean' });
					runs.push({ c: hostCase(marker.file), src: 'marker', passFd, allow: false, verdict: 'found' });
				}
				// all in place, then all run one after another, each in a subshell of its own
				const prep = await guest.run(runs.map((r) => `(${r.c.setup(`${DIR}/${r.src}`)})`).join(' && '), { timeoutMs: guest.ms(120_000) });
				expect(prep.status, `setting up the hard names: ${prep.output}`).toBe(0);
				const before = decisionsIn(relay.output()).length;
				const ran = await guest.run(
					runs.map((r, i) => `out=$( (${r.c.run.replace('SRC', `${DIR}/${r.src}`)}) 2>/dev/null ); echo "run ${i} rc=$? ran=$([ "$out" = 'hello-exec ran' ] && echo yes || echo no)"`).join('\n'),
					{ timeoutMs: guest.ms(120_000) },
				);
				execs += runs.length;
				const results = new Map([...ran.stdout.matchAll(/^run (\d+) rc=(\d+) ran=(yes|no)$/gm)].map((m) => [Number(m[1]), { status: Number(m[2]), ran: m[3] === 'yes' }]));
				const wanted = runs.map((r) => quoteBytes(r.c.path));
				await guest.waitUntil('the relay\'s decision lines', async () => {
					const seen = decisionsIn(relay.output()).slice(before).map((d) => d.path);
					return wanted.every((w) => seen.includes(w)) ? true : undefined;
				}, 10_000).catch(() => {});
				const decisions = decisionsIn(relay.output()).slice(before);
				const kernel = await moduleLog(guest);
				// the programs ran one after another: the n-th run with a name has the n-th decision about it
				const used = new Set<number>();
				runs.forEach((r, i) => {
					const what = `pass_fd=${passFd}, ${r.src} ${r.c.what}`;
					const same = wanted.filter((w) => w === wanted[i]).length;
					const mine = decisions.filter((d) => d.path === wanted[i]);
					expect(mine.length, `${what}: the relay gets the name intact, once per run (${wanted[i]!.slice(0, 120)}); it decided:\n${decisions.map((d) => d.line.slice(0, 200)).join('\n')}`).toBe(same);
					const decision = mine.find((d) => !used.has(d.serial))!;
					used.add(decision.serial);
					expect(results.get(i), `${what}: ${r.allow ? 'runs' : 'is refused (126)'}; the relay said ${decision.line.slice(0, 300)}`).toEqual(r.allow ? { status: 0, ran: true } : { status: 126, ran: false });
					expect({ answer: decision.answer, verdict: decision.verdict }, `${what}: ${r.verdict === 'error' ? 'the name leads nowhere, so --on-error deny' : "clamd's verdict on the file"}`).toEqual({ answer: r.allow ? 'allow' : 'deny', verdict: r.verdict });
					if (passFd === 1) expect(decision.fd, `${what}: with pass_fd=1 the relay gets a descriptor`).toBeGreaterThanOrEqual(0);
					const line = new RegExp(`^(allow|deny) .*: the relay (allows|denies) \\(query ${decision.serial}, `, 'm').exec(kernel);
					// the module cuts a long path short in its decision line, so printk's limit (about
					// 1000 bytes a line) never takes the outcome and the query number with it
					expect(line?.[1], `${what}: the module did what the relay answered (query ${decision.serial})`).toBe(decision.answer);
				});
			}
			relay.kill(15);
			expect((await relay.result).status).toBe(0);
			await clamd.stop();
			expectHealthyKernel(guest, 'after the hard paths');
			figure('hard-paths', { execs_checked: execs, names: cases('x').length + 3 });
		}, onTestFinished);
	});
	test('a chrooted exec: the path names the file inside the chroot, and the relay scans that file, not the one the same name gives outside', { timeout: 180_000 }, async ({ onTestFinished }) => {
		await withGuests('chroot', async (vm) => {
			const guest = await vm.guest({ hostRoot: true });
			const [database, marker] = await Promise.all([baseDatabase(), buildMarker()]);
			await loadExecgate(guest, 'timeout_ms=30000');
			const clamd = await startClamdInGuest(guest, { databaseDir: database });
			// the same name twice: a clean program outside, the marker inside the jail
			const jail = `${DIR}/jail`;
			const prog = `${DIR}/prog`;
			await prepareFixture(guest, 'hello-exec', prog);
			await guest.run(`mkdir -p ${jail}${DIR} ${jail}/bin && cp /bin/busybox ${jail}/bin/ && ln -s busybox ${jail}/bin/sh`);
			await guest.upload(marker.file, `${jail}${prog}`);
			await guest.run(`chmod +x ${jail}${prog}`);
			const relay: StartedRelay = await startRelay(guest, `--clamd ${clamd.socket}`);
			for (const passFd of [0, 1]) {
				await guest.run(`echo ${passFd} > ${PARAMS}/pass_fd`);
				const seen = decisionsIn(relay.output()).length;
				// chroot(8) is busybox here: it calls chroot() and then executes the name in the jail
				const r = await guest.run(`chroot ${jail} ${prog}; echo "rc=$?"`);
				const decision = await guest
					.waitUntil('the relay\'s decision', async () => decisionsIn(relay.output()).slice(seen).find((d) => d.path === JSON.stringify(prog)), 10_000)
					.catch(() => undefined);
				expect(decision, `pass_fd=${passFd}: the relay gets the name as the chrooted process sees it:\n${relay.output().slice(-1500)}`).toMatchObject({ answer: 'deny', verdict: 'found' });
				// the marker exits 0 when it runs; the clean program outside would print "hello-exec ran"
				expect({ stdout: r.stdout, stderr: r.stderr }, `pass_fd=${passFd}: the marker in the jail must be refused, although the clean file outside has its name`).toMatchObject({ stdout: 'rc=126\n', stderr: expect.stringMatching(/Operation not permitted/) });
			}
			relay.kill(15);
			expect((await relay.result).status).toBe(0);
			await clamd.stop();
			expectHealthyKernel(guest, 'after the chrooted exec');
		}, onTestFinished);
	});
});

