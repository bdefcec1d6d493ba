import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import { describeStatus, expectNoWarnings, expectSystemFine, prepareFixture, printed, runWithPeakRss, startBystanders } from './support.js';

/** The guest's memory: 256 MiB must fit with room to spare. */
const GUEST_MIB = 512;

lesson(
	{
		id: '1.6',
		title: { en: 'A big contiguous malloc works; one larger than memory returns NULL', ja: '大きな連続領域の malloc は成功し、メモリより大きいものは NULL を返す' },
		hint: {
			en: 'userspace/bigalloc/bigalloc.c: "bigalloc MIB" calls malloc once for MIB mebibytes. If it returns NULL, print an error to stderr and return 1. Otherwise write one byte in every 4096-byte page through a volatile pointer (so the memory is really used), free it and return 0.',
			ja: 'userspace/bigalloc/bigalloc.c: "bigalloc MIB" は MIB メビバイトを malloc で一度に確保します。NULL が返ったら標準エラー出力にエラーを表示して 1 を返してください。そうでなければ volatile ポインタ経由で 4096 バイトのページごとに 1 バイトずつ書き込み（メモリを実際に使うため）、free して 0 を返してください。',
		},
		files: ['userspace/bigalloc/bigalloc.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest({ memoryMiB: GUEST_MIB });
		const program = await guest.prepareProgram('bigalloc', { static: true });
		expectNoWarnings(program.build, 'bigalloc');
		const peakrss = await prepareFixture(guest, 'peakrss');
		const bystanders = await startBystanders(guest);

		// 256 MiB in one block, every page written: the kernel saw it resident
		const big = await runWithPeakRss(guest, peakrss, `${program.path} 256`);
		expect(big.status, `bigalloc 256 should exit 0, but it ended with ${describeStatus(big.status)}${printed(big.stderr)}`).toBe(0);
		expect(big.maxRssKiB, 'bigalloc 256 should really use 256 MiB (its peak resident memory, in KiB)').toBeGreaterThanOrEqual(256 * 1024);

		// twice all of memory: the kernel refuses the mapping at once, malloc returns NULL
		const memTotalKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec((await guest.run('cat /proc/meminfo')).stdout)?.[1]);
		const tooBig = Math.ceil(memTotalKiB / 1024) * 2;
		const refused = await runWithPeakRss(guest, peakrss, `${program.path} ${tooBig}`);
		expect(refused.status, `bigalloc ${tooBig} should notice that malloc returned NULL and return 1, but it ended with ${describeStatus(refused.status)}`).toBe(1);
		expect(refused.stderr, `bigalloc ${tooBig} should say on stderr that the allocation failed`).not.toBe('');
		// the kernel's own word that this process asked for more than there is
		const log = await guest.dmesg();
		expect(log, `the kernel should log that pid ${refused.pid} asked for too much`).toMatch(
			new RegExp(`^__vm_enough_memory: pid: ${refused.pid}, comm: bigalloc, no(t)? enough memory`, 'm'),
		);

		await expectSystemFine(guest, bystanders);
	},
);
