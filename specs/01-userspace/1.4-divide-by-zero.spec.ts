import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import { describeStatus, expectNoWarnings, expectSystemFine, printed, startBystanders } from './support.js';

lesson(
	{
		id: '1.4',
		title: { en: 'An integer division by zero kills only the process (SIGFPE)', ja: '整数の 0 除算で死ぬのはそのプロセスだけ（SIGFPE）' },
		hint: {
			en: 'userspace/divzero/divzero.c: divide one int by another that is 0 and print the quotient. Keep both in volatile variables: with constants, or with 1 / x, gcc computes the answer without a division instruction. The program should die by SIGFPE (status 136) and the kernel log a "trap divide error" line.',
			ja: 'userspace/divzero/divzero.c: 0 である int で別の int を割り、商を表示してください。両方を volatile 変数に入れてください。定数や 1 / x だと gcc は除算命令を使わずに答えを出してしまいます。プログラムは SIGFPE（終了ステータス 136）で死に、カーネルログに "trap divide error" の行が出るはずです。',
		},
		files: ['userspace/divzero/divzero.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const program = await guest.prepareProgram('divzero', { static: true });
		expectNoWarnings(program.build, 'divzero');
		const bystanders = await startBystanders(guest);

		const crash = guest.spawn(`exec ${program.path}`);
		const pid = await crash.pid;
		const { status, output } = await crash.result;
		expect(status, `divzero should be killed by SIGFPE (136), but it ended with ${describeStatus(status)}${printed(output)}`).toBe(136);

		// the CPU's divide error, reported by the kernel for this very process
		const trap = await guest.waitForEvent('trap', (e) => e.pid === pid, 10_000);
		expect(trap.task).toBe('divzero');
		expect(trap.trap).toBe('divide error');

		await expectSystemFine(guest, bystanders);
	},
);
