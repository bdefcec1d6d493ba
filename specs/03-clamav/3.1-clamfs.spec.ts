import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import { ClamfsMountError, mountClamfs } from '../../clamav/clamfs.js';
import { startClamdInGuest } from '../../clamav/daemon.js';
import { putEicar } from '../../clamav/eicar.js';
import { baseDatabase, buildMarker } from '../../clamav/samples.js';

const VAULT = '/tmp/vault';
const VIEW = '/tmp/view';
const NOBODY = 65534;

lesson(
	{
		id: '3.1',
		title: { en: 'FUSE and clamfs: a folder whose files clamd must clear before they open', ja: 'FUSE と clamfs: clamd の検査を通ったファイルだけが開けるフォルダ' },
		hint: {
			en: 'clamav/clamfs-config.ts: clamfsConfig() returns the XML clamfs reads. Add <clamd socket="..." mode="fdpass" check="yes"/>, <filesystem root="..." mountpoint="..." public="yes"/> (public: users other than root may use the mount), <log method="stdout"/> and <debug fork="no"/> (stay in the foreground), with the socket, root and mountpoint from the options. Add no <cache>: every open must be scanned.',
			ja: 'clamav/clamfs-config.ts: clamfsConfig() は clamfs が読む XML を返します。options の socket・root・mountpoint を使って <clamd socket="..." mode="fdpass" check="yes"/>、<filesystem root="..." mountpoint="..." public="yes"/>（public: root 以外のユーザもマウントを使える）、<log method="stdout"/>、<debug fork="no"/>（フォアグラウンドで動く）を加えてください。<cache> は入れません（開くたびに検査するため）。',
		},
		files: ['clamav/clamfs-config.ts'],
	},
	async ({ vm }) => {
		const guest = await vm.guest({ hostRoot: true });
		const [database, marker] = await Promise.all([baseDatabase(), buildMarker()]);
		const clamd = await startClamdInGuest(guest, { databaseDir: database });

		await guest.run(`mkdir -p ${VAULT} && echo 'meeting at noon' > ${VAULT}/notes.txt && cp /bin/true ${VAULT}/true`);
		await putEicar(guest, `${VAULT}/eicar.com`);
		await guest.upload(marker.file, `${VAULT}/marker`);
		const before = (await guest.run(`cd ${VAULT} && md5sum *`)).stdout;

		const fs = await mountClamfs(guest, { socket: clamd.socket, root: VAULT, mountpoint: VIEW }).catch((e: unknown) => {
			// a configuration clamfs refuses is the lesson's own failure
			if (e instanceof ClamfsMountError) expect.fail(`clamfs should mount ${VIEW} with the configuration from clamfsConfig():\n${e.message}`);
			throw e;
		});

		// clean files open and read as usual, for root and for other users
		for (const uid of [0, NOBODY]) {
			const r = await guest.run(`cat ${VIEW}/notes.txt`, { uid });
			expect(r.stdout, `uid ${uid} reading a clean file through the mount: ${r.output}`).toBe('meeting at noon\n');
		}
		const clean = await guest.run(`${VIEW}/true`);
		expect(clean.status, `a clean program run through the mount should exit 0: ${clean.output}`).toBe(0);

		// detected files are refused at open() with EPERM
		for (const name of ['eicar.com', 'marker']) {
			const r = await guest.run(`cat ${VIEW}/${name} >/dev/null`);
			expect(r.stderr, `opening ${name} through the mount should fail with EPERM (exit ${r.status})`).toMatch(new RegExp(`${name}: Operation not permitted`));
		}
		const exec = await guest.run(`${VIEW}/marker`);
		expect({ status: exec.status, stderr: exec.stderr }, 'running the marker through the mount should be refused (126, EPERM)').toMatchObject({
			status: 126,
			stderr: expect.stringMatching(/Operation not permitted/),
		});
		const listing = await guest.run(`ls ${VIEW}`);
		expect(listing.stdout.split('\n'), 'the refused files are still listed: only opening them is refused').toEqual(expect.arrayContaining(['eicar.com', 'marker']));

		// with clamd gone, nothing can be cleared: clamfs must fail closed
		await clamd.stop();
		for (const name of ['notes.txt', 'true']) {
			const r = await guest.run(`cat ${VIEW}/${name} >/dev/null`);
			expect(r.stderr, `with clamd stopped, opening ${name} should fail with EPERM, but it exited ${r.status}`).toMatch(/Operation not permitted/);
		}

		await fs.unmount();
		const after = (await guest.run(`cd ${VAULT} && md5sum *`)).stdout;
		expect(after, 'the files in the real folder are untouched').toBe(before);
	},
);
