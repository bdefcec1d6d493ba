// Lesson 2.7: memory leaks in the kernel. In chapter 1 (1.7) a leaking process was the OOM
// killer's victim and only it died: its memory came back with it. Memory the kernel leaks
// belongs to no process. The OOM killer still kills processes, biggest first, so innocent
// bystanders die; none of that frees the leak, and once nothing killable is left the kernel
// panics ("System is deadlocked on memory"). Lesson 2.7b shows how the kernel keeps one such
// path, keys, from being driven by an unprivileged user.
import { expect } from 'vitest';
import { GuestDied } from '../../guest/guest.js';
import { lesson } from '../../guest/lesson.js';
import { recordConsole } from './support.js';

const INNOCENTS = 3;
const INNOCENT_MB = 16;

lesson(
	{
		id: '2.7',
		title: {
			en: 'A kernel memory leak driven from user space: the OOM killer kills innocent processes, then the kernel panics "System is deadlocked on memory"',
			ja: 'ユーザ空間から駆動されるカーネルのメモリリーク: OOM killer が無関係なプロセスを殺し、最後にカーネルが "System is deadlocked on memory" でパニックする',
		},
		hint: {
			en: 'kernel/kleak/kleak.c, kleak_write(): allocate copy = kvmalloc(count, GFP_KERNEL) (return -ENOMEM if NULL), copy_from_user(copy, buf, count) (kvfree and return -EFAULT if it fails), and then forget copy: never free it. That is the leak.',
			ja: 'kernel/kleak/kleak.c の kleak_write(): copy = kvmalloc(count, GFP_KERNEL) で確保し（NULL なら -ENOMEM）、copy_from_user(copy, buf, count) でコピーして（失敗したら kvfree して -EFAULT）、その後 copy を忘れてください。解放しないこと、それがリークです。',
		},
		files: ['kernel/kleak/kleak.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest(); // 256 MiB
		const load = await guest.insmod('kleak');
		expect(load.module.build.warnings, 'the module should build without warnings').toEqual([]);
		expect(load.status, `insmod kleak should succeed: ${load.output}`).toBe(0);
		const driver = await guest.prepareProgram('kleak-driver', { static: true });

		const innocents = Array.from({ length: INNOCENTS }, () => guest.spawn(`exec ${driver.path} hold ${INNOCENT_MB}`));
		await guest.waitUntil('the innocent processes to hold their memory', async () =>
			innocents.every((p) => p.output().includes(`holding ${INNOCENT_MB} MB`)) ? true : undefined,
		);

		// The writer gets oom_score_adj -1000, like the daemons the OOM killer must spare (sshd,
		// udevd), and like leaks that no process owns at all (a network path, a timer): killing
		// processes cannot stop the leak. It writes up to four times the guest's memory.
		const leaker = guest.spawn(`echo -1000 > /proc/self/oom_score_adj && exec ${driver.path} leak /proc/kleak 1024`, { timeoutMs: guest.ms(40_000) });
		const end = await leaker.result.then(
			(r) => r,
			(e: unknown) => {
				if (e instanceof GuestDied) return undefined;
				throw e;
			},
		);
		if (end) expect.fail(`the leaker finished (status ${end.status}) and the kernel runs on: does kleak_write() keep what it allocates? It said: ${end.output}`);

		const kills = guest.events().filter((e) => e.kind === 'oom-kill');
		const victims = kills.map((e) => (e.kind === 'oom-kill' ? e.victim : ''));
		expect(victims.filter((v) => v === 'innocent').length, `the OOM killer should kill every innocent process; it killed: ${victims.join(', ') || 'nobody'}`).toBe(INNOCENTS);
		expect(victims, 'the OOM killer picks the biggest processes; the leaked memory counts for none of them').toEqual(Array(INNOCENTS).fill('innocent'));
		expect(guest).toHavePanicked('System is deadlocked on memory');
		recordConsole(guest, 'kernel-leak-oom-panic');
	},
);
