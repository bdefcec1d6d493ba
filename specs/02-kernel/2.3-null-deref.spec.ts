// Lesson 2.3: a NULL pointer dereference in a module. Chapter 1's NULL dereference killed one
// process and nothing else. In the kernel the fault is an oops: the kernel names the faulting
// function and kills the task it was running for; with panic_on_oops=0 it carries on with
// whatever that code left half done (here a module stuck "Loading" for good, which even blocks
// loading a fixed version), and with panic_on_oops=1 the whole machine stops.
import { expect } from 'vitest';
import { GuestDied, sleep } from '../../guest/guest.js';
import { lesson } from '../../guest/lesson.js';
import { recordConsole, rejection } from './support.js';

const files = ['kernel/nullderef/nullderef.c'];
const hint = {
	en: 'kernel/nullderef/nullderef.c, nullderef_init(): increment counter->hits and print it with pr_info("hits: %lu\\n", counter->hits), without checking counter. With allocate=1 the counter exists and the module loads; by default counter is NULL.',
	ja: 'kernel/nullderef/nullderef.c の nullderef_init(): counter をチェックせずに counter->hits を 1 増やし、pr_info("hits: %lu\\n", counter->hits) で表示してください。allocate=1 なら counter は確保済みでロードに成功し、既定では counter は NULL です。',
};

lesson(
	{
		id: '2.3',
		title: {
			en: 'NULL pointer dereference in module_init with panic_on_oops=0: an oops names the function, insmod is killed, the system runs on with the module stuck',
			ja: 'panic_on_oops=0 で module_init が NULL ポインタを参照: oops が関数名を示し、insmod は殺され、システムは動き続けるがモジュールは固まったまま',
		},
		hint,
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		// the same code with a real counter: it must really touch counter->hits
		const good = await guest.insmod('nullderef', 'allocate=1');
		expect(good.module.build.warnings, 'the module should build without warnings').toEqual([]);
		expect(good.status, `insmod nullderef allocate=1 should succeed: ${good.output}`).toBe(0);
		expect(await guest.moduleLog('nullderef'), "the module's kernel log lines with allocate=1").toContain('hits: 1');
		expect((await guest.rmmod('nullderef')).status).toBe(0);

		await guest.sysctl('kernel/panic_on_oops', 0);
		const bad = await guest.insmod('nullderef');
		expect(bad.status, 'insmod should be killed by the oops (SIGKILL: 128 + 9)').toBe(137);
		const oops = await guest.waitForEvent('oops', (e) => e.function !== undefined);
		expect(oops.title).toBe('BUG: kernel NULL pointer dereference');
		expect(oops.function).toBe('nullderef_init');
		expect(oops.module).toBe('nullderef');

		// the system survived...
		expect((await guest.run('echo alive')).stdout).toBe('alive\n');
		// ...but the module is stuck half loaded, and not even a fixed load can replace it
		expect(await guest.moduleState('nullderef'), 'the module whose init oopsed').toBe('Loading');
		const retry = await guest.startInsmod('nullderef', 'allocate=1');
		await sleep(guest.ms(1000));
		expect(await guest.procState(await retry.pid), 'a second insmod waits for the first to finish loading, for ever').toBe('S');
		retry.kill();
		expect((await retry.result).status).toBe(137);
		expect(guest).not.toHaveKernelEvent('panic');
		recordConsole(guest, 'null-deref-oops');
	},
);

lesson(
	{
		id: '2.3',
		title: {
			en: 'NULL pointer dereference in module_init with panic_on_oops=1: the kernel panics and the machine is gone',
			ja: 'panic_on_oops=1 で module_init が NULL ポインタを参照: カーネルはパニックし、マシンごと止まる',
		},
		hint,
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		await guest.sysctl('kernel/panic_on_oops', 1);
		const load = await guest.startInsmod('nullderef');
		await rejection(load.result, GuestDied, 'insmod nullderef with panic_on_oops=1');
		expect(guest).toHaveOopsed({ title: 'BUG: kernel NULL pointer dereference', function: 'nullderef_init', module: 'nullderef' });
		expect(guest).toHavePanicked('Fatal exception');
		recordConsole(guest, 'null-deref-panic');
	},
);
