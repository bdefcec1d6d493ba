import { expect } from 'vitest';
import { sleep } from '../../guest/guest.js';
import type { LabGuest } from '../../guest/lab-guest.js';
import { lesson } from '../../guest/lesson.js';
import { describeStatus, expectNoWarnings, expectSystemFine, startBystanders } from './support.js';

/** CPU time (user + system, in clock ticks) a process has used, from /proc/PID/stat. */
async function cpuTicks(guest: LabGuest, pid: number): Promise<number | undefined> {
	const stat = (await guest.run(`cat /proc/${pid}/stat 2>/dev/null`)).stdout;
	// fields after the ")" that closes the name: state is field 3, utime 14, stime 15
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return fields.length > 12 ? Number(fields[11]) + Number(fields[12]) : undefined;
}

lesson(
	{
		id: '1.2',
		title: { en: 'An infinite loop is found with pidof and ended with SIGKILL', ja: '無限ループを pidof で見つけ、SIGKILL で終わらせる' },
		hint: {
			en: 'userspace/busyloop/busyloop.c: loop forever, incrementing a volatile counter so that gcc keeps the loop. It must keep the CPU busy (state R) and never end by itself; "pidof busyloop" finds it and "kill -9" ends it with status 137.',
			ja: 'userspace/busyloop/busyloop.c: volatile なカウンタを増やし続ける無限ループを書いてください（gcc がループを消さないように）。CPU を使い続け（状態 R）、自分では終わらないこと。"pidof busyloop" で見つかり、"kill -9" で終了ステータス 137 になります。',
		},
		files: ['userspace/busyloop/busyloop.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const program = await guest.prepareProgram('busyloop', { static: true });
		expectNoWarnings(program.build, 'busyloop');
		const bystanders = await startBystanders(guest);

		const loop = guest.spawn(`exec ${program.path}`);
		let ended: number | undefined;
		loop.result.then((r) => (ended = r.status), () => {});
		const pid = await loop.pid;

		// found by name, as a student would
		const pids = await guest.waitUntil('"pidof busyloop" to find the program, or the program to end', async () => {
			if (ended !== undefined) return [];
			const found = await guest.pidsOf('busyloop');
			return found.length ? found : undefined;
		}, 10_000);
		if (ended !== undefined) expect.fail(`busyloop should keep running until killed, but it ended by itself with status ${ended}`);
		expect(pids, `"pidof busyloop" should find the program (pid ${pid}) and nothing else`).toEqual([pid]);

		// busy, not asleep: running (R), and its CPU time keeps growing
		const before = await cpuTicks(guest, pid);
		await sleep(guest.ms(1000));
		const after = await cpuTicks(guest, pid);
		const state = await guest.procState(pid);
		expect(state, `busyloop should be running (state R), but its state is ${state ?? 'gone (it ended)'}`).toBe('R');
		expect(after! - before!, 'busyloop should have used CPU time during a second of waiting').toBeGreaterThan(0);
		expect(ended, 'busyloop should not end by itself').toBeUndefined();

		const kill = await guest.run('kill -9 $(pidof busyloop)');
		expect(kill.status, `kill -9 failed: ${kill.output}`).toBe(0);
		const { status } = await loop.result;
		expect(status, `busyloop should end by SIGKILL (137), but it ended with ${describeStatus(status)}`).toBe(137);
		expect(await guest.pidsOf('busyloop'), 'no busyloop should be left').toEqual([]);

		await expectSystemFine(guest, bystanders);
	},
);
