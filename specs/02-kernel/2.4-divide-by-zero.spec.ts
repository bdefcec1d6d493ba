// Lesson 2.4: an integer division by zero in a module. In chapter 1 it killed one process with
// SIGFPE. In kernel mode the CPU's divide error is an oops like lesson 2.3's: the task is
// killed (by SIGSEGV, the kernel's choice for a task that dies in an oops, not SIGFPE), and
// panic_on_oops decides whether the machine goes on.
import { expect } from 'vitest';
import { GuestDied } from '../../guest/guest.js';
import { lesson } from '../../guest/lesson.js';
import { recordConsole, rejection } from './support.js';

const files = ['kernel/divzero/divzero.c'];
const hint = {
	en: 'kernel/divzero/divzero.c, divzero_init(): print dividend / divisor with pr_info("%d / %d = %d\\n", dividend, divisor, dividend / divisor), without checking divisor. divisor=4 loads fine; the default divisor is 0.',
	ja: 'kernel/divzero/divzero.c の divzero_init(): divisor をチェックせずに pr_info("%d / %d = %d\\n", dividend, divisor, dividend / divisor) で商を表示してください。divisor=4 ならロードに成功し、既定の divisor は 0 です。',
};

lesson(
	{
		id: '2.4',
		title: {
			en: 'Division by zero in module_init with panic_on_oops=0: a divide error oops, insmod dies, the system runs on',
			ja: 'panic_on_oops=0 で module_init が 0 で割る: divide error の oops が出て insmod は死に、システムは動き続ける',
		},
		hint,
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const good = await guest.insmod('divzero', 'divisor=4');
		expect(good.module.build.warnings, 'the module should build without warnings').toEqual([]);
		expect(good.status, `insmod divzero divisor=4 should succeed: ${good.output}`).toBe(0);
		expect(await guest.moduleLog('divzero'), "the module's kernel log lines with divisor=4").toContain('100 / 4 = 25');
		expect((await guest.rmmod('divzero')).status).toBe(0);

		await guest.sysctl('kernel/panic_on_oops', 0);
		const bad = await guest.insmod('divzero');
		expect(bad.status, 'insmod should die in the oops (SIGSEGV: 128 + 11)').toBe(139);
		const oops = await guest.waitForEvent('oops', (e) => e.function !== undefined);
		expect(oops.title).toBe('divide error');
		expect(oops.function).toBe('divzero_init');
		expect(oops.module).toBe('divzero');

		expect((await guest.run('echo alive')).stdout).toBe('alive\n');
		expect(await guest.moduleState('divzero'), 'the module whose init oopsed').toBe('Loading');
		expect(guest).not.toHaveKernelEvent('panic');
		recordConsole(guest, 'divide-error-oops');
	},
);

lesson(
	{
		id: '2.4',
		title: {
			en: 'Division by zero in module_init with panic_on_oops=1: the kernel panics and the machine is gone',
			ja: 'panic_on_oops=1 で module_init が 0 で割る: カーネルはパニックし、マシンごと止まる',
		},
		hint,
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		await guest.sysctl('kernel/panic_on_oops', 1);
		const load = await guest.startInsmod('divzero');
		await rejection(load.result, GuestDied, 'insmod divzero with panic_on_oops=1');
		expect(guest).toHaveOopsed({ title: 'divide error', function: 'divzero_init', module: 'divzero' });
		expect(guest).toHavePanicked('Fatal exception');
		recordConsole(guest, 'divide-error-panic');
	},
);
