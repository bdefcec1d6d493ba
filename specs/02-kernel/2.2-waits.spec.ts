// Lesson 2.2: waiting and looping in the kernel. In chapter 1 a looping or deadlocked process
// died with SIGKILL. Code in module_init runs in insmod's own kernel context: a signal there is
// only noticed where the code itself allows it (a killable sleep, a fatal_signal_pending()
// check), and a loop that never gives the CPU away stops a one-CPU machine outright.
import { expect } from 'vitest';
import { CommandTimeout, sleep } from '../../guest/guest.js';
import { lesson } from '../../guest/lesson.js';
import { pendingSignals, recordConsole, rejection, signalBit, waitForInitToBlock, waitForInitToRun } from './support.js';

const files = ['kernel/waits/waits.c'];
const SIGKILL = 9;

lesson(
	{
		id: '2.2',
		title: {
			en: 'mutex_lock() twice in module_init: insmod sleeps in D state, SIGKILL cannot end it, the hung-task detector reports it',
			ja: 'module_init で mutex_lock() を二重に呼ぶ: insmod は D 状態で眠り続け、SIGKILL でも終わらず、hung task 検出器が報告する',
		},
		hint: {
			en: 'kernel/waits/waits.c, lock_twice(): call mutex_lock(&lesson_lock) and then mutex_lock(&lesson_lock) again. A kernel mutex is not recursive: the second call waits for a holder that is the waiting task itself, in TASK_UNINTERRUPTIBLE, where no signal is delivered.',
			ja: 'kernel/waits/waits.c の lock_twice(): mutex_lock(&lesson_lock) を呼び、続けてもう一度 mutex_lock(&lesson_lock) を呼んでください。カーネルの mutex は再帰できないので、二度目は自分自身を待ち続けます。その待ちは TASK_UNINTERRUPTIBLE で、シグナルは届きません。',
		},
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const load = await guest.startInsmod('waits', 'mode=double_lock');
		const pid = await load.pid;
		await waitForInitToBlock(guest, 'waits', load.result, pid);

		load.kill(SIGKILL);
		await sleep(guest.ms(1000));
		expect(await guest.procState(pid), 'insmod one second after SIGKILL should still sleep in D state').toBe('D');
		const pending = await pendingSignals(guest, pid);
		expect(pending, 'insmod should still exist').toBeDefined();
		expect(((pending!.thread | pending!.shared) & signalBit(SIGKILL)) !== 0n, 'SIGKILL should stay pending (SigPnd/ShdPnd in /proc/PID/status)').toBe(true);
		expect(await guest.moduleState('waits'), 'the module never finishes loading').toBe('Loading');
		const rmmod = await guest.rmmod('waits');
		expect(rmmod.status, 'rmmod of a module whose init never returned should fail').not.toBe(0);

		// hung_task_timeout_secs is 120 by default; 2 s makes khungtaskd look (and report) soon
		await guest.sysctl('kernel/hung_task_timeout_secs', 2);
		const report = await guest.waitForEvent('hung-task', (e) => e.pid === pid, 20_000);
		expect(report.task).toBe('insmod');
		recordConsole(guest, 'hung-task');
	},
);

lesson(
	{
		id: '2.2',
		title: {
			en: 'mutex_lock_killable() on a lock another task holds: SIGKILL ends the wait with -EINTR and the module is not loaded',
			ja: '他のタスクが持つロックを mutex_lock_killable() で待つ: SIGKILL で待ちが -EINTR で終わり、モジュールはロードされない',
		},
		hint: {
			en: 'kernel/waits/waits.c, lock_killable(): a kthread already holds lesson_lock. Set ret = mutex_lock_killable(&lesson_lock), print it with pr_info("mutex_lock_killable() returned %d\\n", ret), and unlock only if it returned 0. Returning the error from module_init makes insmod fail and the module vanish.',
			ja: 'kernel/waits/waits.c の lock_killable(): lesson_lock はすでに kthread が持っています。ret = mutex_lock_killable(&lesson_lock) とし、pr_info("mutex_lock_killable() returned %d\\n", ret) で表示し、0 が返ったときだけ unlock してください。module_init がエラーを返すと insmod は失敗し、モジュールは残りません。',
		},
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const load = await guest.startInsmod('waits', 'mode=killable_lock');
		const pid = await load.pid;
		// a killable sleep (TASK_KILLABLE) also shows as D in /proc
		await waitForInitToBlock(guest, 'waits', load.result, pid);

		load.kill(SIGKILL);
		const r = await load.result;
		expect(r.status, `insmod should die of SIGKILL (128 + 9); it said: ${r.output}`).toBe(137);
		expect(await guest.moduleLog('waits')).toContain('mutex_lock_killable() returned -4');
		expect(await guest.moduleState('waits'), 'a module whose init failed is removed').toBeUndefined();
		expect(guest).not.toHaveKernelEvent('oops');
	},
);

lesson(
	{
		id: '2.2',
		title: {
			en: 'A busy loop without cond_resched() in module_init freezes a one-CPU guest until the soft-lockup watchdog reports it',
			ja: 'cond_resched() のないビジーループを module_init で回すと、CPU 1 個のゲストは止まり、soft lockup の watchdog が報告する',
		},
		hint: {
			en: 'kernel/waits/waits.c, spin(): compute end = jiffies + seconds * HZ and loop while time_before(jiffies, end), calling only cpu_relax(). Kernel code is not preempted here, so nothing else, not even the shell that would send SIGKILL, runs on the CPU.',
			ja: 'kernel/waits/waits.c の spin(): end = jiffies + seconds * HZ を求め、time_before(jiffies, end) の間 cpu_relax() だけを呼んでループしてください。ここではカーネルのコードは横取りされないので、SIGKILL を送るシェルさえ CPU で動けません。',
		},
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		// the soft-lockup threshold is twice watchdog_thresh (default 10 s): 1 makes it 2 s
		await guest.sysctl('kernel/watchdog_thresh', 1);
		const load = await guest.startInsmod('waits', 'mode=spin seconds=60');
		const pid = await load.pid;
		const first = await Promise.race([
			load.result.then((r) => ({ returned: r })),
			guest.waitForEvent('soft-lockup', (e) => e.pid === pid, 20_000).then((e) => ({ lockup: e })),
		]);
		if ('returned' in first) expect.fail(`insmod returned (status ${first.returned.status}) instead of spinning: ${first.returned.output.trim() || 'no output'}`);
		expect(first.lockup.task).toBe('insmod');

		// the agent that runs our commands never gets the CPU back while the loop spins
		await rejection(guest.run('true', { timeoutMs: guest.ms(3000) }), CommandTimeout, 'a shell command while the module spins');
		recordConsole(guest, 'soft-lockup');
	},
);

lesson(
	{
		id: '2.2',
		title: {
			en: 'A loop with cond_resched() keeps the guest alive but ignores SIGKILL; checking fatal_signal_pending() makes it killable',
			ja: 'cond_resched() を入れたループではゲストは動き続けるが SIGKILL は無視される。fatal_signal_pending() を調べれば kill できる',
		},
		hint: {
			en: 'kernel/waits/waits.c: in spin_yielding() loop until end like spin() but call cond_resched() in every round; in spin_killable() also return -EINTR as soon as fatal_signal_pending(current) is true (and print "fatal signal pending" with pr_info).',
			ja: 'kernel/waits/waits.c: spin_yielding() では spin() と同じく end までループし、毎回 cond_resched() を呼んでください。spin_killable() ではさらに fatal_signal_pending(current) が真になったらすぐ -EINTR を返してください（pr_info で "fatal signal pending" と表示）。',
		},
		files,
	},
	async ({ vm }) => {
		const guest = await vm.guest();

		// cond_resched(): the shell still runs, but SIGKILL only acts once init has returned
		const yielding = await guest.startInsmod('waits', 'mode=spin_yielding seconds=6');
		const pid = await yielding.pid;
		await waitForInitToRun(guest, 'waits', yielding.result);
		const alive = await guest.run('echo alive', { timeoutMs: guest.ms(3000) });
		expect(alive.stdout, 'the guest should answer while the module yields').toBe('alive\n');
		yielding.kill(SIGKILL);
		await sleep(guest.ms(1000));
		const state = await guest.procState(pid);
		expect(state, `insmod should still be running its init one second after SIGKILL, but ${state === undefined ? 'it has exited' : `its state is ${state}`}`).toBe('R');
		const late = await yielding.result;
		expect(late.status, 'insmod dies of SIGKILL, but only after init returned').toBe(137);
		expect(await guest.moduleState('waits'), 'init returned 0, so the module is loaded anyway').toBe('Live');
		expect((await guest.rmmod('waits')).status).toBe(0);

		// fatal_signal_pending(): the loop ends as soon as SIGKILL arrives
		const killable = await guest.startInsmod('waits', 'mode=spin_killable seconds=60', { timeoutMs: guest.ms(20_000) });
		await waitForInitToRun(guest, 'waits', killable.result);
		const killedAt = performance.now();
		killable.kill(SIGKILL);
		const r = await killable.result;
		expect(r.status, `insmod should die of SIGKILL; it said: ${r.output}`).toBe(137);
		expect(performance.now() - killedAt, 'milliseconds from SIGKILL to the end of insmod').toBeLessThan(guest.ms(5000));
		expect(await guest.moduleLog('waits')).toContain('fatal signal pending: stopping the loop');
		expect(await guest.moduleState('waits'), 'init returned -EINTR, so the module is gone').toBeUndefined();
	},
);
