import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import {
	describeStatus,
	expectNoWarnings,
	expectSystemFine,
	prepareFixture,
	printed,
	runWithPeakRss,
	startBystanders,
} from './support.js';

lesson(
	{
		id: '1.5',
		title: { en: 'A big stack array works up to the stack limit (8 MiB); past it, SIGSEGV', ja: 'スタック上の大きな配列は上限（8 MiB）までは使え、越えると SIGSEGV' },
		hint: {
			en: 'userspace/bigstack/bigstack.c: "bigstack MIB" declares a char array of MIB mebibytes as a local variable (a variable-length array) and writes one byte in every 4096-byte page through a volatile pointer, so that the stack really grows. 1 and 7 MiB fit under "ulimit -s" (8192 KiB); 9 MiB does not, and the kernel kills the program with SIGSEGV.',
			ja: 'userspace/bigstack/bigstack.c: "bigstack MIB" は MIB メビバイトの char 配列をローカル変数（可変長配列）として宣言し、volatile ポインタ経由で 4096 バイトのページごとに 1 バイトずつ書き込んで、スタックを実際に伸ばしてください。1 MiB と 7 MiB は "ulimit -s"（8192 KiB）に収まりますが 9 MiB は収まらず、カーネルが SIGSEGV でプログラムを殺します。',
		},
		files: ['userspace/bigstack/bigstack.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const program = await guest.prepareProgram('bigstack', { static: true });
		expectNoWarnings(program.build, 'bigstack');
		const peakrss = await prepareFixture(guest, 'peakrss');
		const bystanders = await startBystanders(guest);
		expect((await guest.run('ulimit -s')).stdout.trim(), 'the default stack limit').toBe('8192');

		// fits: it exits normally, and the kernel saw that much memory really used
		for (const mib of [1, 7]) {
			const r = await runWithPeakRss(guest, peakrss, `${program.path} ${mib}`);
			expect(r.status, `bigstack ${mib} should exit 0, but it ended with ${describeStatus(r.status)}${printed(r.stderr)}`).toBe(0);
			expect(r.maxRssKiB, `bigstack ${mib} should really write ${mib} MiB of stack (its peak resident memory, in KiB)`).toBeGreaterThanOrEqual(mib * 1024);
		}

		// past the limit: the kernel refuses to grow the stack
		const over = await runWithPeakRss(guest, peakrss, `${program.path} 9`);
		expect(over.status, `bigstack 9 should be killed by SIGSEGV (139), but it ended with ${describeStatus(over.status)}`).toBe(139);
		const fault = await guest.waitForEvent('segfault', (e) => e.pid === over.pid, 10_000);
		expect(fault.task).toBe('bigstack');

		// it is the limit that decides: raised to 16 MiB, the same 9 MiB fits
		const raised = await runWithPeakRss(guest, peakrss, `${program.path} 9`, 'ulimit -s 16384; ');
		expect(raised.status, `with "ulimit -s 16384", bigstack 9 should exit 0, but it ended with ${describeStatus(raised.status)}`).toBe(0);
		expect(raised.maxRssKiB).toBeGreaterThanOrEqual(9 * 1024);

		await expectSystemFine(guest, bystanders);
	},
);
