import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';

/** Why a line that was printed may be missing: printk keeps a line without its newline open. */
const UNFINISHED = ' (a pr_info() whose text does not end in "\\n" stays unfinished, unseen by dmesg, until the next message)';

lesson(
	{
		id: '2.1',
		title: { en: 'Hello world from a kernel module: printk in module_init and module_exit', ja: 'カーネルモジュールで Hello world.（module_init と module_exit の printk）' },
		hint: {
			en: 'kernel/hello/hello.c: in the init function call pr_info("Hello world.\\n") and return 0; in the exit function pr_info("Goodbye world.\\n"). Register them with module_init() and module_exit().',
			ja: 'kernel/hello/hello.c: 初期化関数で pr_info("Hello world.\\n") を呼んで 0 を返し、終了関数で pr_info("Goodbye world.\\n") を呼んでください。module_init() と module_exit() で登録します。',
		},
		files: ['kernel/hello/hello.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const load = await guest.insmod('hello');
		expect(load.module.build.warnings, 'the module should build without warnings').toEqual([]);
		expect(load.status, `insmod failed: ${load.output}`).toBe(0);
		// pr_fmt prefixes every line with the module name: moduleLog() keeps the "hello: " lines
		expect(await guest.moduleLog('hello'), `the kernel log lines of the module after insmod${UNFINISHED}`).toContain('Hello world.');
		expect((await guest.run('grep -c "^hello " /proc/modules')).stdout.trim()).toBe('1');

		const unload = await guest.rmmod('hello');
		expect(unload.status, `rmmod failed: ${unload.output}`).toBe(0);
		expect(await guest.moduleLog('hello'), `the kernel log lines of the module after rmmod${UNFINISHED}`).toContain('Goodbye world.');
		expect(guest).not.toHaveKernelEvent('oops');
	},
);
