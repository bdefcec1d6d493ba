// Group 1, the guest: cold boot and snapshot restore to the first command, the round trip of a
// trivial command, and the naive recipe (the compressed bzImage, which TCG spends ~4 s
// decompressing) for the ratio.
import { Guest, type GuestImage } from '../guest/guest.js';
import type { Recorder } from './figures.js';

const GROUP = 'guest';

/** Start a guest, run one trivial command, and return the time to its answer in ms. */
async function toFirstCommand(image: GuestImage, incoming?: string): Promise<number> {
	const t0 = performance.now();
	const guest = await Guest.start(image, { incoming });
	try {
		await guest.afterRestore();
		await guest.run('true');
		return performance.now() - t0;
	} finally {
		await guest.close();
	}
}

export async function guestFigures(rec: Recorder, image: GuestImage, bzImage: string, snapshot: string, runs: number): Promise<void> {
	const cold = await rec.measure(GROUP, 'cold boot to first command (PVH vmlinux)', 'ms', runs, () => toFirstCommand(image));
	const naive = await rec.measure(GROUP, 'cold boot to first command (bzImage, the naive recipe)', 'ms', runs, () => toFirstCommand({ ...image, vmlinux: bzImage }));
	// restores are cheap: twice the runs for a steadier median
	const restore = await rec.measure(GROUP, 'snapshot restore to first command', 'ms', 2 * runs, () => toFirstCommand(image, snapshot));
	const guest = await Guest.start(image, { incoming: snapshot });
	try {
		await guest.afterRestore();
		const perRun = 40;
		await rec.measure(
			GROUP,
			'round trip of a trivial command (true)',
			'ms',
			runs,
			async () => {
				const times: number[] = [];
				for (let i = 0; i < perRun; i++) times.push((await guest.run('true')).ms);
				return times.sort((a, b) => a - b)[perRun / 2]!;
			},
			`each run the median of ${perRun} commands`,
		);
	} finally {
		await guest.close();
	}
	rec.ratio(GROUP, 'naive boot / PVH boot', naive, cold);
	rec.ratio(GROUP, 'cold boot / restore', cold, restore);
}
