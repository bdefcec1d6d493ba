import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import { describeStatus, expectNoWarnings, expectSystemFine, printed, startBystanders } from './support.js';

lesson(
	{
		id: '1.3',
		title: { en: 'A NULL pointer dereference kills only the process (SIGSEGV)', ja: 'NULL ポインタ参照で死ぬのはそのプロセスだけ（SIGSEGV）' },
		hint: {
			en: 'userspace/nullderef/nullderef.c: store an int through a NULL pointer. Make the pointer volatile (volatile int *volatile p): a NULL store is undefined behaviour, and without volatile the compiler is free to replace or drop it. The program should die by SIGSEGV (status 139) and the kernel log a "segfault at 0" line.',
			ja: 'userspace/nullderef/nullderef.c: NULL ポインタ経由で int を書き込んでください。ポインタは volatile にしてください（volatile int *volatile p）。NULL への書き込みは未定義動作なので、volatile がないとコンパイラはそれを別の命令に置き換えたり消したりしてかまいません。プログラムは SIGSEGV（終了ステータス 139）で死に、カーネルログに "segfault at 0" の行が出るはずです。',
		},
		files: ['userspace/nullderef/nullderef.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const program = await guest.prepareProgram('nullderef', { static: true });
		expectNoWarnings(program.build, 'nullderef');
		const bystanders = await startBystanders(guest);

		const crash = guest.spawn(`exec ${program.path}`);
		const pid = await crash.pid;
		const { status, output } = await crash.result;
		expect(status, `nullderef should be killed by SIGSEGV (139), but it ended with ${describeStatus(status)}${printed(output)}`).toBe(139);

		// the kernel's own account: this process, a write fault at address 0
		const fault = await guest.waitForEvent('segfault', (e) => e.pid === pid, 10_000);
		expect(fault.task).toBe('nullderef');
		expect(fault.address, 'the faulting address should be 0 (NULL)').toBe('0');

		await expectSystemFine(guest, bystanders);
	},
);
