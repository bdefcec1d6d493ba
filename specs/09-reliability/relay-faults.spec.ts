// The exec-scanning path when the relay (clamav/relay.ts) fails: killed or restarted while execs
// wait for it.
//
// Every exec here is checked against the module's own log line for it (dmesg): the outcome the
// module reports (the relay allows / denies, or the fail policy) must be what the program saw
// (ran, or EPERM: 126), the relay may only allow what clamd found clean, and a detected program
// never runs unless the configured policy (fail-open) says so. Nothing may hang: each wait is
// bounded by a limit far above the module's and the relay's own time limits.
import { describe, expect, test } from 'vitest';
import { DEVICE, PARAMS, type StartedRelay, loadExecgate, moduleLog, prepareFixture, startRelay } from '../04-lsm/support.js';
import { DIR, checkRound, execAll, freshCopies, setup } from './rounds.js';
import { expectHealthyKernel, figure, withGuests } from './support.js';

describe('the relay under faults', () => {
	test('relay killed (SIGKILL) and restarted, relay stopped (SIGTERM) and replaced at once, while execs wait: each exec resolves by the policy or by a real verdict, none hangs', { timeout: 300_000 }, async ({ onTestFinished }) => {
		await withGuests('relay killed and restarted', async (vm) => {
			const guest = await vm.guest({ hostRoot: true });
			const clamd = await setup(guest);
			// the relay holds every scan back: the execs are still waiting when the fault comes
			const relayArgs = `--clamd ${clamd.socket} --delay-ms 1500`;
			let relay: StartedRelay = await startRelay(guest, relayArgs);
			let waits = 0;
			// the tools this test runs while execs wait are scanned once now, side by side
			const warmUp = () => guest.run(`dmesg >/dev/null & cp ${DIR}/clean ${DIR}/warm-copy & cat /dev/null & sleep 0 & wait`, { timeoutMs: guest.ms(60_000) });
			await warmUp();

			// SIGKILL with fail_closed=1: every waiting exec is released at once, denied
			const a = await freshCopies(guest, 'kill', 3, 3);
			const all = [...a.clean, ...a.detected];
			const killRound = execAll(guest, all, `echo 0 > ${PARAMS}/fail_closed`);
			await guest.run(`echo 1 > ${PARAMS}/fail_closed`);
			await guest.waitUntil('the six execs to wait for the relay', async () => {
				const log = await moduleLog(guest);
				return all.every((f) => log.includes(`exec ${f} (pid`)) ? true : undefined;
			});
			const killedAt = performance.now();
			await guest.run(`kill -9 ${relay.pidNumber}`);
			const killed = await killRound.result;
			waits += all.length;
			const outcomes = await checkRound(guest, relay.output, a, killed.stdout, { policy: 'fail-closed', onError: 'deny' });
			// "no relay": queued a moment after the relay died, which the policy decides the same way
			expect([...outcomes.values()].every((d) => /^(the relay is gone|no relay), fail-closed$/.test(d.outcome)), `all six were released by the relay's death: ${[...outcomes.values()].map((d) => d.outcome).join('; ')}`).toBe(true);
			// a hang limit, not a speed goal: the module's own timeout_ms is 30 s
			expect(performance.now() - killedAt, 'the waiting execs were released by the relay\'s death, not by timeout_ms').toBeLessThan(guest.ms(20_000));

			// restarted: right verdicts again
			relay = await startRelay(guest, relayArgs);
			await warmUp();
			const b = await freshCopies(guest, 'restarted', 2, 2);
			const afterRestart = await execAll(guest, [...b.clean, ...b.detected]).result;
			const restarted = await checkRound(guest, relay.output, b, afterRestart.stdout, { policy: 'fail-open', onError: 'deny' });
			expect([...restarted.values()].map((d) => d.outcome), 'the restarted relay answers every query itself').toEqual(['the relay allows', 'the relay allows', 'the relay denies', 'the relay denies']);

			// SIGTERM (BYE) while execs wait, a new relay started at once and retrying until the
			// device is free: queries the old relay read are answered by it, the rest by the policy
			const c = await freshCopies(guest, 'replaced', 3, 3);
			const cAll = [...c.clean, ...c.detected];
			const bundle = relay.bundle;
			const replaceRound = execAll(guest, cAll);
			await guest.waitUntil('the six execs to wait for the relay', async () => {
				const log = await moduleLog(guest);
				return cAll.every((f) => log.includes(`exec ${f} (pid`)) ? true : undefined;
			});
			const old = relay;
			old.kill(15);
			const successor = guest.spawn(`while :; do node ${bundle} --clamd ${clamd.socket}; [ $? = 1 ] || exit; sleep 0.1; done`, { timeoutMs: Number.POSITIVE_INFINITY });
			const oldEnd = await old.result;
			expect(oldEnd.status, `the old relay stops cleanly on SIGTERM:\n${oldEnd.output.slice(-1500)}`).toBe(0);
			const replaced = await replaceRound.result;
			waits += cAll.length;
			const replacedOutcomes = await checkRound(guest, old.output, c, replaced.stdout, { policy: 'fail-open', onError: 'deny' });
			await guest.waitUntil('the new relay to have the device', async () => (/^relay: ready /m.test(successor.output()) ? true : undefined), 60_000);
			const d = await freshCopies(guest, 'successor', 2, 2);
			const bySuccessor = await execAll(guest, [...d.clean, ...d.detected]).result;
			const succeeded = await checkRound(guest, successor.output, d, bySuccessor.stdout, { policy: 'fail-open', onError: 'deny' });
			expect([...succeeded.values()].map((x) => x.outcome), 'the new relay answers every query itself').toEqual(['the relay allows', 'the relay allows', 'the relay denies', 'the relay denies']);
			successor.kill(15);
			await successor.result.catch(() => {});
			await clamd.stop();
			expectHealthyKernel(guest, 'after killing and replacing the relay');
			const byPolicy = [...replacedOutcomes.values()].filter((x) => !x.outcome.startsWith('the relay ')).length;
			figure('relay-faults', { execs_waiting_at_fault: waits, execs_checked: all.length + 4 + cAll.length + 4, replaced_answered_by_old_relay: cAll.length - byPolicy, replaced_by_policy: byPolicy });
		}, onTestFinished);
	});

	test('the relay exits while a process it started still holds the device: the registration ends with the relay, so an exec gets the policy at once and a new relay can open the device', { timeout: 180_000 }, async ({ onTestFinished }) => {
		await withGuests('relay gone, heir holds the device', async (vm) => {
			const guest = await vm.guest({ hostRoot: true });
			// a long timeout_ms: an exec still queued for the dead relay would wait it out
			await loadExecgate(guest, 'timeout_ms=20000');
			const clean = await prepareFixture(guest, 'hello-exec', `${DIR}/clean`);
			const devrelay = await prepareFixture(guest, 'devrelay');
			// the shell opens the device (it is the relay), starts an heir that inherits the
			// descriptor, and exits; the heir's exec is not asked: it is the relay's child
			const relay = await guest.run(`sh -c 'exec 3<>${DEVICE}; sleep 600 & echo $!'`);
			const heir = relay.stdout.trim();
			expect(relay.status, `the shell relay: ${relay.output}`).toBe(0);
			onTestFinished(async () => void (await guest.run(`kill ${heir}`).catch(() => {})));
			const held = await guest.run(`ls -l /proc/${heir}/fd/3`);
			expect(held.stdout, `the heir (pid ${heir}) holds the device`).toContain(DEVICE);

			// fail-open (the default): with fail_closed=1 the shell of every guest command would be refused too
			const exec = await guest.run(`${clean}; echo "rc=$?"`, { timeoutMs: guest.ms(90_000) });
			const line = (await moduleLog(guest)).split('\n').find((l) => /^(allow|deny) /.test(l) && l.includes(` ${clean}: `));
			expect(line, `the exec should be decided at once by the policy (no relay), not wait timeout_ms=20000 for the dead one (the module's line for it; the shell printed ${JSON.stringify(exec.stdout)})`).toMatch(new RegExp(`^allow ${clean}: no relay, fail-open \\(query \\d+, \\d+ ms\\)$`));
			expect(exec.stdout, 'fail-open: it runs').toBe('hello-exec ran\nrc=0\n');

			const probe = await guest.run(`${devrelay} probe`);
			expect(probe.stdout, 'a new relay can open the device while the heir still holds the old one').toContain('open ok');
			expectHealthyKernel(guest, 'after the relay left an heir');
		}, onTestFinished);
	});
});
