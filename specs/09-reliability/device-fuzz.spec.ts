// Hostile input to /dev/execgate, and who may be the relay.
//
// Fault: a fuzzer in the guest (userspace/execgate-fuzz) is the relay and throws thousands of
// malformed answers (wrong and unknown serials, numbers past 64 bits, partial lines, no newline,
// random bytes, NUL bytes, zero-length and over-long writes, unreadable buffers) and odd reads
// (every size below the line's, a 1 GiB buffer, unwritable buffers) at the device while real
// execs wait, with and without pass_fd. The guest boots with slub_debug, so a write past a
// kmalloc'd buffer or a use after free is reported by SLUB itself.
// Proves: each bad input gets the protocol's error (EINVAL, ENOENT, EFAULT), a query survives
// every failed read and comes next, serials come one after another (none lost, none twice), the
// real execs get their right verdicts, and the kernel stays clean: no oops, WARNING or SLUB
// report, no kernel memory left behind, no file reference left (the programs' tmpfs unmounts).
import { describe, expect, test } from 'vitest';
import { GUEST_WORKDIR } from '../../guest/lab-guest.js';
import { DEVICE, MODULE, PARAMS, loadExecgate, prepareFixture, queriesFor, startDevrelay } from '../04-lsm/support.js';
import { expectHealthyKernel, fieldsOf, figure, kernelKb, soakSeconds, withGuests } from './support.js';

const DIR = GUEST_WORKDIR;
/** A tmpfs of the fuzz test's own for the programs it runs. */
const FZ = `${DIR}/fz`;
/** Exec loop iterations per pass_fd setting; each runs one clean and one denied program. */
const ROUNDS = Math.max(20, Math.round(soakSeconds(4) * 6));

describe('/dev/execgate under hostile input', () => {
	test('fuzzed writes and reads each get their error; real queries still get the right answers; the kernel stays clean', { timeout: 300_000 + ROUNDS * 4000 }, async ({ onTestFinished }) => {
		await withGuests('device fuzz', async (vm) => {
			const guest = await vm.guest({ cold: true, cpus: 2, append: ['slub_debug=FZPU'] });
			await loadExecgate(guest, 'timeout_ms=60000');
			const fuzzer = await guest.prepareProgram('execgate-fuzz', { static: true });
			expect(fuzzer.build.warnings, 'execgate-fuzz builds without warnings').toEqual([]);
			// the programs live on a tmpfs of their own: a file reference the module failed to drop
			// (a read that faulted after taking the file for pass_fd) would keep it from unmounting
			const mounted = await guest.run(`mkdir -p ${FZ} && mount -t tmpfs fz ${FZ}`);
			expect(mounted.status, mounted.output).toBe(0);
			for (const name of ['clean', 'deny-me']) await prepareFixture(guest, 'hello-exec', `${FZ}/${name}`);
			const kbBefore = await kernelKb(guest);

			// LAB_FUZZ_SEED=<seed> repeats a run's sequence of bad inputs
			const seed = Number(process.env.LAB_FUZZ_SEED) || Date.now() % 1_000_000_007;
			const relay = await guest.startDaemon(`${fuzzer.path} fuzz 600 ${seed} deny-me`, /^ready$/m, 'the fuzzer to open the device');
			const loop = (tag: string) =>
				guest.run(
					`ok=0; den=0; wrong=0; i=0; while [ $i -lt ${ROUNDS} ]; do ` +
						`out=$(${FZ}/clean); if [ "$out" = "hello-exec ran" ]; then ok=$((ok+1)); else wrong=$((wrong+1)); fi; ` +
						`${FZ}/deny-me >/dev/null 2>&1; if [ $? = 126 ]; then den=$((den+1)); else wrong=$((wrong+1)); fi; ` +
						`i=$((i+1)); done; echo "${tag} ran=$ok denied=$den wrong=$wrong"`,
					{ timeoutMs: guest.ms(240_000 + ROUNDS * 2000) },
				);
			const byPath = await loop('by-path');
			await guest.run(`echo 1 > ${PARAMS}/pass_fd`);
			const byFd = await loop('by-fd');
			relay.kill(15);
			const done = await relay.result;
			const summary = fieldsOf(done.stdout, 'fuzz');
			const mismatches = done.stdout.split('\n').filter((l) => l.startsWith('mismatch '));

			expect(mismatches, `every bad input gets the protocol's error (seed ${seed}; LAB_FUZZ_SEED=${seed} repeats it):\n${mismatches.join('\n')}`).toEqual([]);
			expect(summary, `the fuzzer's summary:\n${done.output.slice(-3000)}`).toBeDefined();
			for (const r of [byPath, byFd]) {
				const f = fieldsOf(r.stdout, r.stdout.split(' ')[0]);
				expect(f, r.output).toMatchObject({ ran: String(ROUNDS), denied: String(ROUNDS), wrong: '0' });
			}
			const n = (k: string) => Number(summary?.[k]);
			expect(n('denied'), 'the fuzzer denied exactly the deny-me execs').toBe(2 * ROUNDS);
			expect(n('allowed'), 'and allowed the clean ones (and the shells and commands around them)').toBeGreaterThanOrEqual(2 * ROUNDS);
			expect(n('bad_writes'), 'thousands of bad writes were tried').toBeGreaterThan(2000);
			expect(n('bad_reads'), 'and many bad reads').toBeGreaterThan(1000);
			expect(n('boundary_checks'), 'the exact length of many lines was probed read by read').toBeGreaterThan(10);
			expect(n('efault_reoffered'), 'queries came back after reads that faulted').toBeGreaterThan(5);
			const [fdsEnd, fdsStart] = String(summary?.fds).split('/').map(Number);
			expect(fdsEnd, 'no descriptor was left in the fuzzer by failed reads with pass_fd=1').toBe(fdsStart);

			// nothing left behind once the relay is gone and the module unloaded
			expect((await guest.rmmod(MODULE)).status, 'the module unloads after the fuzzing').toBe(0);
			const kbAfter = await kernelKb(guest);
			// a lost 16 KiB query buffer per failed read would be tens of MiB
			expect(kbAfter - kbBefore, `unreclaimable kernel memory grew from ${kbBefore} to ${kbAfter} KB`).toBeLessThan(1024);
			const unmounted = await guest.run(`umount ${FZ}`);
			expect(unmounted.status, `no reference to a file the execs ran is left: the programs' tmpfs unmounts (${unmounted.output.trim()})`).toBe(0);
			// ask SLUB to check every kmalloc cache now, not only the objects freed so far
			await guest.run('for f in /sys/kernel/slab/kmalloc-*/validate; do echo 1 > $f; done');
			expectHealthyKernel(guest, 'after fuzzing the device');
			figure('device-fuzz', { seed, queries: n('queries'), bad_writes: n('bad_writes'), bad_reads: n('bad_reads'), boundary_checks: n('boundary_checks'), efault_reoffered: n('efault_reoffered'), execs: 4 * ROUNDS, kernel_kb: kbAfter - kbBefore });
		}, onTestFinished);
	});

	test('only the registered relay may read or answer: no other opener, no one without CAP_SYS_ADMIN, no thief or heir of its descriptor, no impostor by name', async ({ onTestFinished }) => {
		await withGuests('relay identity', async (vm) => {
			const guest = await vm.guest();
			await loadExecgate(guest, 'timeout_ms=20000');
			const fuzz = (await guest.prepareProgram('execgate-fuzz', { static: true })).path;
			const devrelay = await prepareFixture(guest, 'devrelay');
			for (const name of ['clean', 'deny-me']) await prepareFixture(guest, 'hello-exec', `${DIR}/${name}`);

			// no relay yet: permission is the only reason to refuse these
			await guest.run(`chmod 666 ${DEVICE}`);
			expect((await guest.run(`${devrelay} probe`, { uid: 1000 })).stdout, `a user without CAP_SYS_ADMIN cannot open ${DEVICE}, even at mode 0666`).toContain('open failed: EPERM');
			expect((await guest.run(`${fuzz} nocap`)).stdout, 'nor can root without CAP_SYS_ADMIN').toContain('nocap uid=0 open EPERM');
			await guest.run(`chmod 600 ${DEVICE}`);

			// a process that opened the device and then forked: the child is not the relay
			const heir = await guest.run(`${fuzz} inherit`);
			expect(heir.stdout, `a child that inherited the relay's descriptor must not read queries:\n${heir.output}`).toContain('inherit read EPERM');
			expect(heir.stdout, 'nor answer them').toContain('inherit write EPERM');

			const relay = await startDevrelay(guest, devrelay, '--deny deny-me');
			const fdOf = await guest.run(`for f in /proc/${relay.pidNumber}/fd/*; do [ "$(readlink $f)" = ${DEVICE} ] && echo \${f##*/}; done`);
			const fd = fdOf.stdout.trim();
			expect(fd, `the relay's descriptor of ${DEVICE}`).toMatch(/^\d+$/);
			expect((await guest.run(`${devrelay} probe`)).stdout, 'a second opener gets EBUSY').toContain('open failed: EBUSY');
			expect((await guest.run(`setsid sh -c '${devrelay} probe'`)).stdout, 'so does a child of an unrelated session').toContain('open failed: EBUSY');
			expect((await guest.run(`${fuzz} reopen ${relay.pidNumber} ${fd}`)).stdout, `opening the relay's own /proc/PID/fd/${fd} is a second open: EBUSY`).toContain('reopen EBUSY');

			// root can take the relay's descriptor (pidfd_getfd): that does not make it the relay
			const thief = await guest.run(`${fuzz} steal ${relay.pidNumber} ${fd}`);
			expect(thief.stdout, thief.output).toContain('steal getfd ok');
			expect(thief.stdout, 'a process holding a stolen descriptor must not read queries').toContain('steal read EPERM');
			expect(thief.stdout, 'nor answer them').toContain('steal write EPERM');

			// a process named like the relay is asked like any other, and denied
			const before = queriesFor(relay.output(), `${DIR}/deny-me`).length;
			const impostor = await guest.run(`cp ${fuzz} ${DIR}/devrelay-impostor && ${DIR}/devrelay-impostor impostor devrelay ${DIR}/deny-me`);
			expect(impostor.stdout, `a process that calls itself "devrelay" gets no exemption: its child's exec is denied\n${impostor.output}`).toContain('impostor child 126');
			expect(queriesFor(relay.output(), `${DIR}/deny-me`).length, 'the relay was asked about it').toBe(before + 1);
			expect((await guest.run(`${DIR}/clean`)).stdout, 'and the relay still answers').toBe('hello-exec ran\n');
			expectHealthyKernel(guest, 'after the identity checks');
		}, onTestFinished);
	});
});
