// Lesson 2.5: the kernel stack is small. A user program in chapter 1 had an 8 MB stack that
// grows on demand. Each kernel thread has a fixed 16 KB stack (THREAD_SIZE on x86-64): kernel
// memory is not pageable, one stack per thread adds up over thousands of threads, and a small
// stack keeps the per-task cost low. Everything on the call chain shares it, so kernel code
// keeps frames small (gcc warns above 2 KB: -Wframe-larger-than=2048).
// With CONFIG_VMAP_STACK the stack is mapped in vmalloc space with an unmapped guard page below
// it: a frame that runs just off the end faults on that page and the kernel stops at once. A
// frame much bigger than the stack skips the single guard page and lands in some other vmalloc
// area (another stack, a module buffer...), which it overwrites until it hits that area's end.
import { expect } from 'vitest';
import { GuestDied } from '../../guest/guest.js';
import { INSMOD } from '../../guest/lab-guest.js';
import { lesson } from '../../guest/lesson.js';
import { consoleLines } from '../../guest/console.js';
import { recordConsole, rejection } from './support.js';

const files = ['kernel/bigstack/bigstack.c'];
const hint = {
	en: 'kernel/bigstack/bigstack.c: in each array_<N>k() function declare a local array char buf[N KB] (SZ_4K, SZ_8K, SZ_8K + SZ_4K, SZ_16K, SZ_64K), then call use_buffer(buf, sizeof(buf)) and report_room(buf, sizeof(buf)). gcc will warn that each frame is larger than 2048 bytes: that warning is the lesson.',
	ja: 'kernel/bigstack/bigstack.c: 各 array_<N>k() 関数でローカル配列 char buf[N KB]（SZ_4K, SZ_8K, SZ_8K + SZ_4K, SZ_16K, SZ_64K）を宣言し、use_buffer(buf, sizeof(buf)) と report_room(buf, sizeof(buf)) を呼んでください。gcc はフレームが 2048 バイトを超えると警告します。その警告こそが教訓です。',
};

lesson(
	{
		id: '2.5',
		title: {
			en: '4, 8 and 12 KB local arrays fit in the 16 KB kernel stack, with a frame-size warning from the build',
			ja: '4・8・12 KB のローカル配列は 16 KB のカーネルスタックに収まるが、ビルドでフレームサイズの警告が出る',
		},
		hint,
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const module = await guest.prepareModule('bigstack');
		const frames = module.build.warnings
			.map((w) => /the frame size of (\d+) bytes is larger than 2048 bytes/.exec(w)?.[1])
			.filter((n): n is string => n !== undefined)
			.map(Number);
		const printed = module.build.warnings.length ? `it printed:\n${module.build.warnings.join('\n')}\n` : 'it printed no warning. ';
		expect(frames.length, `gcc should warn about every big frame (-Wframe-larger-than=2048); ${printed}Frames it warned about`).toBeGreaterThanOrEqual(5);
		console.info(`bigstack: gcc warned about frames of ${frames.sort((a, b) => a - b).join(', ')} bytes (-Wframe-larger-than=2048)`);

		const left: number[] = [];
		for (const kb of [4, 8, 12]) {
			const r = await guest.run(`exec ${INSMOD} ${module.path} kb=${kb}`);
			expect(r.status, `insmod bigstack kb=${kb} should succeed: ${r.output}`).toBe(0);
			const line = (await guest.moduleLog('bigstack')).map((l) => new RegExp(`^${kb} KB array: (\\d+) bytes of the 16384-byte stack left below it$`).exec(l)).find(Boolean);
			expect(line, `the module should report how much stack is left below the ${kb} KB array`).toBeTruthy();
			left.push(Number(line![1]));
			expect((await guest.rmmod('bigstack')).status).toBe(0);
		}
		// each array takes its size out of the same 16 KB; the exact numbers move by up to 1 KB
		// from one system call to the next (RANDOMIZE_KSTACK_OFFSET)
		expect(left[1], 'stack left below the 8 KB array, compared with below the 4 KB one').toBeLessThan(left[0]);
		expect(left[2], 'stack left below the 12 KB array, compared with below the 8 KB one').toBeLessThan(left[1]);
		expect(left[0] - left[2], 'the 12 KB array takes about 8 KB more than the 4 KB one').toBeGreaterThan(8192 - 1024 - 64);
		expect(left[2], 'bytes left below the 12 KB array: all that interrupts and deeper calls may use').toBeLessThan(4096);
		expect(guest).not.toHaveKernelEvent('oops');
	},
);

lesson(
	{
		id: '2.5',
		title: {
			en: 'A 16 KB local array runs into the stack guard page: the kernel panics even with panic_on_oops=0',
			ja: '16 KB のローカル配列はスタックのガードページに当たる: panic_on_oops=0 でもカーネルはパニックする',
		},
		hint,
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		await guest.sysctl('kernel/panic_on_oops', 0);
		const load = await guest.startInsmod('bigstack', 'kb=16');
		await rejection(load.result, GuestDied, 'insmod bigstack kb=16');
		// no stack is left to handle the fault on: the double-fault handler reports and panics
		expect(guest).toHaveOopsed({ title: /stack guard page was hit/ });
		expect(guest).toHavePanicked(/^Fatal exception/);
		recordConsole(guest, 'stack-guard-page-panic');
	},
);

lesson(
	{
		id: '2.5',
		title: {
			en: 'A 64 KB local array jumps over the guard page: it overwrites a neighbouring memory area before it faults',
			ja: '64 KB のローカル配列はガードページを飛び越える: 隣のメモリ領域を上書きしてからフォールトする',
		},
		hint,
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		await guest.sysctl('kernel/panic_on_oops', 0);
		const load = await guest.startInsmod('bigstack', 'kb=64');
		const r = await load.result;
		expect(r.status, 'insmod should be killed by the oops (SIGKILL: 128 + 9)').toBe(137);
		const oops = await guest.waitForEvent('oops', (e) => e.function !== undefined);
		expect(oops.title, 'not the guard page this time: an ordinary page fault somewhere else').toBe('BUG: unable to handle page fault');
		expect(oops.function).toBe('array_64k');

		const stackLine = (await guest.moduleLog('bigstack')).map((l) => /stack ([0-9a-f]{16})-([0-9a-f]{16})/.exec(l)).find(Boolean);
		expect(stackLine, 'the module should print its stack range').toBeTruthy();
		const stackBottom = BigInt(`0x${stackLine![1]}`);
		const guardPage = stackBottom - 4096n;
		const oopsText = consoleLines(guest.console).slice(oops.line, oops.line + 30).join('\n');
		const faultAddress = BigInt(`0x${/unable to handle page fault for address: ([0-9a-f]+)/.exec(oopsText)![1]}`);
		const rsp = BigInt(`0x${/^RSP: [0-9a-f]{4}:([0-9a-f]{16})/m.exec(oopsText)![1]}`);
		const hex = (n: bigint) => n.toString(16);
		expect(rsp < guardPage, `the 64 KB frame (RSP ${hex(rsp)}) starts below the guard page at ${hex(guardPage)}`).toBe(true);
		expect(faultAddress < guardPage, `the fault (${hex(faultAddress)}) is not on the stack's guard page (${hex(guardPage)})`).toBe(true);

		// whose memory was it? with kptr_restrict=1 root reads real addresses in /proc/vmallocinfo
		await guest.sysctl('kernel/kptr_restrict', 1);
		const areas = (await guest.run('cat /proc/vmallocinfo')).stdout
			.split('\n')
			.map((l) => /^0x([0-9a-f]+)-0x([0-9a-f]+)\s+\d+ (\S+)/.exec(l))
			.filter((m): m is RegExpExecArray => m !== null)
			.map((m) => ({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), owner: m[3] }));
		const victim = areas.find((a) => a.start <= rsp && rsp < a.end);
		expect(victim, `RSP ${hex(rsp)} should lie in another vmalloc area (see /proc/vmallocinfo)`).toBeDefined();
		expect(victim!.start, 'the area the frame landed in is not our own stack').not.toBe(stackBottom);
		// vmalloc areas end in their own guard page: that is where the writing finally stopped
		expect(hex(faultAddress), `the fault should be at the guard page that ends the area ${hex(victim!.start)}-${hex(victim!.end)}`).toBe(hex(victim!.end - 4096n));
		const overwritten = faultAddress - rsp;
		expect(overwritten > 0n, 'bytes of the neighbouring area written before the fault').toBe(true);
		console.info(`bigstack: the 64 KB frame overwrote ${overwritten} bytes of ${victim!.owner}'s area ${hex(victim!.start)}-${hex(victim!.end)} before it faulted`);
		recordConsole(guest, 'stack-64k-page-fault-oops');
	},
);
