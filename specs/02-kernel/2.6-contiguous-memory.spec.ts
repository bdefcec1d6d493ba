// Lesson 2.6: contiguous memory. Chapter 1's malloc() of hundreds of MB worked because user
// memory only has to be virtually contiguous. kmalloc() and alloc_pages() return physically
// contiguous memory from the buddy allocator, whose biggest block is 2^10 pages (4 MB): an
// order-11 or 8 MB request fails on any machine, however much is free (the first such failure
// of a boot also prints a WARNING, once). vmalloc() stitches single pages into one virtual
// range, so 64 MB works, at the cost of page-table setup and TLB entries.
// The module reports each attempt as a TAP line in the kernel log; the spec reads those results.
import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import { parseTap, recordConsole } from './support.js';

const expected: [string, boolean][] = [
	['kmalloc 1 MB', true],
	['kmalloc 4 MB', true],
	['kmalloc 8 MB', false],
	['kmalloc 64 MB', false],
	['alloc_pages order 10', true],
	['alloc_pages order 11', false],
	['vmalloc 64 MB', true],
];

lesson(
	{
		id: '2.6',
		title: {
			en: 'Contiguous kernel memory: kmalloc up to 4 MB and alloc_pages up to order 10 succeed, larger fail; vmalloc of 64 MB succeeds',
			ja: '連続したカーネルメモリ: kmalloc は 4 MB まで、alloc_pages は order 10 まで成功し、それより大きいと失敗する。vmalloc の 64 MB は成功する',
		},
		hint: {
			en: 'kernel/contig/contig.c: in try_kmalloc() set p = kmalloc(size, GFP_KERNEL); in try_alloc_pages() pages = alloc_pages(GFP_KERNEL, order); in try_vmalloc() p = vmalloc(size). The code around them already frees each block and prints one TAP line per attempt.',
			ja: 'kernel/contig/contig.c: try_kmalloc() で p = kmalloc(size, GFP_KERNEL)、try_alloc_pages() で pages = alloc_pages(GFP_KERNEL, order)、try_vmalloc() で p = vmalloc(size) としてください。解放と、試行ごとの TAP 1 行の出力は周りのコードが行います。',
		},
		files: ['kernel/contig/contig.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const load = await guest.insmod('contig');
		expect(load.module.build.warnings, 'the module should build without warnings').toEqual([]);
		expect(load.status, `insmod contig should succeed: ${load.output}`).toBe(0);

		const report = parseTap((await guest.moduleLog('contig')).join('\n'));
		expect(report.planned, 'the module plans 7 attempts').toBe(expected.length);
		const results = Object.fromEntries(report.points.map((p) => [p.name, p.ok]));
		expect(results, 'which allocations succeeded (true) and which failed (false)').toEqual(Object.fromEntries(expected));
		// vmalloc got its 64 MB from pages scattered over physical memory
		const layout = report.comments.map((c) => /^vmalloc 64 MB: (\d+) pages in (\d+) physically contiguous runs$/.exec(c)).find(Boolean);
		expect(layout, 'the module reports how the vmalloc area is laid out physically').toBeTruthy();
		expect(Number(layout![2]), 'physically contiguous runs in the 64 MB vmalloc area').toBeGreaterThan(1);

		expect((await guest.rmmod('contig')).status).toBe(0);
		expect(guest).not.toHaveKernelEvent('oops');
		recordConsole(guest, 'kmalloc-8mb-warning');
	},
);
