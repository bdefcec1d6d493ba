import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import { MODULE, loadExecgate, moduleFile, moduleLog } from './support.js';

const EXECS = 20;

lesson(
	{
		id: '4.2',
		title: {
			en: 'ro_after_init: a plain store to the hook list faults with a permissions violation; a store through a writable vmap alias adds the hook',
			ja: 'ro_after_init: フックリストへの普通の書き込みは権限違反のページフォールトになり、vmap した書き込み可能な別名経由ならフックを追加できる',
		},
		hint: {
			en: 'kernel/execgate/rowrite.c, write_through_alias(): map the page that holds *where a second time with vmap(&page, 1, VM_MAP, PAGE_KERNEL) (page_of() gives the page), store value at alias + offset_in_page(where) with WRITE_ONCE, vunmap() the alias and return 0 (-ENOMEM if vmap fails).',
			ja: 'kernel/execgate/rowrite.c の write_through_alias(): *where を含むページ（page_of() で得られます）を vmap(&page, 1, VM_MAP, PAGE_KERNEL) でもう一度書き込み可能にマップし、alias + offset_in_page(where) に WRITE_ONCE で value を書き、vunmap() して 0 を返します（vmap が失敗したら -ENOMEM）。',
		},
		files: [moduleFile('rowrite.c')],
		requires: ['4.1'],
	},
	async ({ vm }) => {
		// 1. The negative control, in a guest of its own: the module stays "Loading" after the oops.
		const crashed = await vm.guest();
		const direct = await crashed.startInsmod(MODULE, 'ro_write=direct');
		const insmod = await direct.result;
		expect(insmod.status, `the direct store should oops, which kills insmod (SIGKILL, 137); insmod printed: ${insmod.output.trim() || '(nothing)'}`).toBe(137);
		// the event is complete once its RIP line has arrived
		const oops = await crashed.waitForEvent('oops', (e) => e.function !== undefined);
		expect(oops.title, 'a store to read-only kernel data is a page fault').toBe('BUG: unable to handle page fault');
		expect(crashed.console, 'the fault should be a write to a present, read-only page').toMatch(/#PF: error_code\(0x0003\) - permissions violation/);
		expect(oops.module, 'the faulting store is in the module').toBe(MODULE);
		expect((await crashed.run('echo alive')).stdout, 'the kernel carries on after the oops').toBe('alive\n');

		// 2. Through a writable alias of the same page the store works, and the hook runs.
		const guest = await vm.guest();
		await loadExecgate(guest, 'ask=0');
		let log = await moduleLog(guest);
		const before = /^before: bprm_check_security calls (.*)$/m.exec(log)?.[1];
		expect(before, `the module logs the hook list before adding to it:\n${log}`).toBeDefined();
		expect(before, 'execgate is not on the list before it adds itself').not.toMatch(/\bexecgate\b/);
		expect(log, 'after the store through the alias, execgate is the last hook on the list').toMatch(new RegExp(`^after: bprm_check_security calls ${before} execgate$`, 'm'));

		const run = await guest.run(`cp /bin/busybox /tmp/true && i=0 && while [ $i -lt ${EXECS} ]; do /tmp/true || exit 1; i=$((i+1)); done`);
		expect(run.status, `${EXECS} execs with the hook in place: ${run.output}`).toBe(0);

		const unload = await guest.rmmod(MODULE);
		expect(unload.status, `rmmod: ${unload.output}`).toBe(0);
		log = await moduleLog(guest);
		expect(log, 'rmmod takes the hook off the list again (another store through the alias)').toMatch(new RegExp(`^unloading: bprm_check_security calls ${before}$`, 'm'));
		const calls = Number(/^unloaded after (\d+) execs, \d+ queries to the relay$/m.exec(log)?.[1]);
		expect(calls, `the kernel called the hook for each of the ${EXECS} execs; the module counted ${calls}`).toBeGreaterThanOrEqual(EXECS);

		// loading again finds the list as it was at boot
		await loadExecgate(guest, 'ask=0');
		expect(await moduleLog(guest)).toMatch(new RegExp(`^before: bprm_check_security calls ${before}$(?![\\s\\S]*^before: )`, 'm'));
		expect(guest).not.toHaveKernelEvent('oops');
		expect(guest).not.toHaveKernelEvent('warning');
	},
);
