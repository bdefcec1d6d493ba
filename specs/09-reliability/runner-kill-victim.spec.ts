// Not a check of its own: the run that specs/09-reliability/harness.spec.ts kills. With
// LAB_RELIABILITY_VICTIM=1 it starts a guest and keeps it for a minute, so the runner can be
// SIGKILLed while a test holds a QEMU; otherwise (every ordinary run) it is skipped.
import { describe, expect, test } from 'vitest';
import { GuestPool } from '../../guest/lesson.js';
import { sleep } from '../../guest/guest.js';

describe.skipIf(process.env.LAB_RELIABILITY_VICTIM !== '1')('a run to be killed', () => {
	test('holds a guest for a minute', { timeout: 120_000 }, async ({ onTestFinished }) => {
		const vm = new GuestPool();
		onTestFinished(() => vm.closeAll());
		const guest = await vm.guest();
		expect((await guest.run('echo up')).stdout).toBe('up\n');
		process.stdout.write(`victim: guest up, QEMU ${guest.pid}\n`);
		await sleep(60_000);
	});
});
