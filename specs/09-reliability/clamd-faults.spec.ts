// The exec-scanning path when clamd fails: killed mid-scan (the real one, and a fake one with the
// scans in hand), too slow, answering late, with garbage, a wrong or no session id, an empty
// reply, no NUL, a closed connection, or an endless reply (userspace/execgate-fakeclamd).
//
// Every exec here is checked against the module's own log line for it (dmesg) and the relay's
// decision (see rounds.ts): each is answered by --on-error within the relay's scan timeout, with
// its reason; the relay survives each fault and recovers when clamd is back.
import { describe, expect, test } from 'vitest';
import { startClamdInGuest } from '../../clamav/daemon.js';
import { baseDatabase } from '../../clamav/samples.js';
import { type StartedRelay, decisionsIn, startRelay } from '../04-lsm/support.js';
import { CLAMD_DIR, CLAMD_SOCKET, DIR, type Expectation, checkRound, execAll, freshCopies, freshCopiesLater, setup } from './rounds.js';
import { expectHealthyKernel, figure, withGuests } from './support.js';

describe('clamd under faults', () => {
	test('clamd killed mid-scan, too slow, or answering garbage: the relay answers by --on-error within its scan timeout, survives, and recovers when clamd is back', { timeout: 300_000 }, async ({ onTestFinished }) => {
		await withGuests('clamd faults', async (vm) => {
			const guest = await vm.guest({ hostRoot: true });
			let clamd = await setup(guest);
			const fake = (await guest.prepareProgram('execgate-fakeclamd', { static: true })).path;
			const deny: Expectation = { policy: 'fail-open', onError: 'deny' };
			let execs = 0;
			let faults = 0;
			// With clamd gone, --on-error deny refuses every program the relay has no verdict for:
			// clamd itself, and the fake, could not start again. Each relay clears them, with the
			// tools this test runs meanwhile, while clamd is up; the verdicts stay in its cache.
			const warmUp = async () => {
				const warm = await guest.run(`${fake} >/dev/null 2>&1; clamd --version >/dev/null; clamdscan --version >/dev/null; awk 'BEGIN {}'; cat /dev/null; sleep 0; cp ${DIR}/clean ${DIR}/warm-copy; rm -f ${DIR}/warm-copy; mkdir -p ${DIR}; ls / >/dev/null; dmesg >/dev/null; head -c 0 /dev/null; true`, { timeoutMs: guest.ms(90_000) });
				expect(warm.status, warm.output).toBe(0);
			};
			// a long scan timeout first: the faults of this part must not race with it
			let relay = await startRelay(guest, `--clamd ${CLAMD_SOCKET} --scan-timeout-ms 30000 --on-error deny`);

			const round = async (tag: string, e: Expectation, r: StartedRelay = relay, ready?: { clean: string[]; detected: string[] }) => {
				const files = ready ?? (await freshCopies(guest, tag, 1, 1));
				const out = await execAll(guest, [...files.clean, ...files.detected]).result;
				execs += 2;
				const seen = await checkRound(guest, r.output, files, out.stdout, e);
				const answers = [...seen.values()];
				const decisions = decisionsIn(r.output()).filter((d) => answers.some((a) => a.serial === d.serial));
				return { answers, decisions };
			};

			// the real clamd: the baseline
			const base = await round('base', deny);
			expect(base.answers.map((a) => a.outcome)).toEqual(['the relay allows', 'the relay denies']);
			await warmUp();

			// the real clamd SIGKILLed while it scans (the clean programs carry 8 MiB of random bytes,
			// so they take a while): each exec gets clamd's verdict, or --on-error deny
			const burst = await freshCopies(guest, 'burst', 3, 3);
			await guest.run(burst.clean.map((f) => `head -c 8388608 /dev/urandom >> ${f}`).join('; '));
			const clamdPid = await clamd.process.pid;
			const burstRun = execAll(guest, [...burst.clean, ...burst.detected]);
			await guest.waitUntil('clamd to be scanning a program of the burst', async () => {
				const open = await guest.run(`ls -l /proc/${clamdPid}/fd/`);
				return burst.clean.some((f) => open.stdout.includes(f)) ? true : undefined;
			});
			clamd.process.kill(9);
			await clamd.process.result.catch(() => {});
			faults++;
			const burstSeen = await checkRound(guest, relay.output, burst, (await burstRun.result).stdout, deny);
			execs += 6;
			const killedMidScan = decisionsIn(relay.output()).filter((d) => [...burstSeen.values()].some((a) => a.serial === d.serial) && d.verdict === 'error');
			expect(killedMidScan.length, 'at least the scan clamd had open when it died ends in --on-error').toBeGreaterThan(0);

			// killed mid-scan, certainly: a fake clamd takes both scans, never answers, and dies
			const hang = await guest.startDaemon(`${fake} ${CLAMD_SOCKET} hang`, /^ready$/m, 'the fake clamd (hang)');
			const mid = await freshCopies(guest, 'midscan', 1, 1);
			const midRun = execAll(guest, [...mid.clean, ...mid.detected]);
			await guest.waitUntil('the fake clamd to have both scans', async () => ((hang.output().match(/^command /gm)?.length ?? 0) >= 2 ? true : undefined));
			hang.kill(9);
			await hang.result.catch(() => {});
			faults++;
			const midSeen = await checkRound(guest, relay.output, mid, (await midRun.result).stdout, deny);
			execs += 2;
			const midDecisions = decisionsIn(relay.output()).filter((d) => [...midSeen.values()].some((a) => a.serial === d.serial));
			expect(midDecisions.map((d) => d.reason), 'clamd died with both scans in hand: the relay saw the connection close (its scan timeout is 30 s)').toEqual([expect.stringMatching(/closed the session/), expect.stringMatching(/closed the session/)]);

			// a relay with a short scan timeout for clamds that are slow or say nothing useful
			clamd = await startClamdInGuest(guest, { databaseDir: await baseDatabase(), runDir: CLAMD_DIR });
			relay.kill(15);
			expect((await relay.result).status, 'the first relay stops cleanly').toBe(0);
			// room for a real scan on a loaded host (the warm-up's scans must not time out), short
			// enough that the fakes' seven faults stay quick
			const SCAN_TIMEOUT = 2000;
			relay = await startRelay(guest, `--clamd ${CLAMD_SOCKET} --scan-timeout-ms ${SCAN_TIMEOUT} --on-error deny`);
			await warmUp();
			clamd.process.kill(9);
			await clamd.process.result.catch(() => {});

			// the fakes, on clamd's socket: each exec is denied by --on-error deny. A scan failed by
			// the other scan's timeout is reported as "closed the session": the session is torn down.
			const timedOut = /did not answer within|closed the session before replying/;
			const modes: [string, RegExp][] = [
				['hang', timedOut],
				[`late ${SCAN_TIMEOUT * 2}`, timedOut],
				// random bytes may hold a "<digits>: ..." reply by chance: its "reason" is then noise
				['garbage', /[\s\S]*/],
				['wrong-id', timedOut],
				['no-id', timedOut],
				['empty', /[\s\S]*/],
				['no-nul', /closed the session before replying/],
				['close', /closed the session before replying/],
				// refused as soon as the reply is longer than any real one (clamav/client.ts, MAX_REPLY_BYTES)
				['flood', /reply longer than \d+ bytes/],
			];
			const rss: Record<string, number> = {};
			const copies = new Map<string, { clean: string[]; detected: string[] }>();
			for (const [mode] of modes) copies.set(mode, freshCopiesLater(mode.split(' ')[0]!));
			const made = await guest.run([...copies.values()].flatMap((c) => [`cp ${DIR}/clean ${c.clean[0]}`, `cp ${DIR}/marker ${c.detected[0]}`]).join(' && '));
			expect(made.status, made.output).toBe(0);
			for (const [mode, reason] of modes) {
				const injector = await guest.startDaemon(`${fake} ${CLAMD_SOCKET} ${mode}`, /^ready$/m, `the fake clamd (${mode})`);
				const r = await round(mode, deny, relay, copies.get(mode));
				faults++;
				expect(r.answers.map((a) => a.outcome), `clamd "${mode}": the relay still answers, by --on-error deny`).toEqual(['the relay denies', 'the relay denies']);
				for (const d of r.decisions) expect({ verdict: d.verdict, reason: d.reason ?? '(none given)' }, `clamd "${mode}": the decision says why`).toMatchObject({ verdict: 'error', reason: expect.stringMatching(reason) });
				const status = (await guest.run(`cat /proc/${relay.pidNumber}/status`)).stdout;
				expect(/^State:\s+([RSD])/m.exec(status)?.[1], `the relay survives clamd "${mode}"`).toBeDefined();
				rss[mode.split(' ')[0]!] = Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1]);
				injector.kill(9);
				await injector.result.catch(() => {});
			}

			// the real clamd is back on the same socket: the relay recovers by itself
			clamd = await startClamdInGuest(guest, { databaseDir: await baseDatabase(), runDir: CLAMD_DIR });
			const back = await round('back', deny);
			expect(back.answers.map((a) => a.outcome), 'with clamd back, real verdicts again').toEqual(['the relay allows', 'the relay denies']);

			// the answer follows the configuration: --on-error allow lets both run when clamd hangs
			relay.kill(15);
			expect((await relay.result).status).toBe(0);
			await clamd.stop();
			const hang2 = await guest.startDaemon(`${fake} ${CLAMD_SOCKET} hang`, /^ready$/m, 'the fake clamd (hang)');
			relay = await startRelay(guest, `--clamd ${CLAMD_SOCKET} --scan-timeout-ms ${SCAN_TIMEOUT} --on-error allow`);
			const permissive = await round('onerror-allow', { policy: 'fail-open', onError: 'allow' });
			faults++;
			expect(permissive.answers.map((a) => a.outcome), 'with --on-error allow, an unscannable program runs, detected or not').toEqual(['the relay allows', 'the relay allows']);
			hang2.kill(9);
			relay.kill(15);
			await relay.result.catch(() => {});
			expectHealthyKernel(guest, 'after the clamd faults');
			const floodKb = rss.flood! - rss.close!;
			figure('clamd-faults', { execs_checked: execs, faults_injected: faults, relay_growth_kb_in_flood: floodKb, ...Object.fromEntries(Object.entries(rss).map(([k, v]) => [`relay_peak_rss_kb_after_${k}`, v])) });
			// a clamd that answers with an endless line must not grow the relay (a clamd reply is a
			// path and a few words): before 0ed171c the client kept the whole reply until the scan
			// timeout, searching all of it for the NUL on every chunk (+30 MB within 1 s under TCG)
			expect(floodKb, `a flooding clamd grew the relay's peak memory by ${floodKb} KB within one ${SCAN_TIMEOUT} ms scan timeout`).toBeLessThan(16 * 1024);
		}, onTestFinished);
	});
});
