// The clamd fixture inside a guest (clamd from the host root over 9p): it answers, it stops,
// and a database clamd refuses is reported with clamd's own words. Chapter 4's relay builds on it.
import { expect, onTestFinished, test } from 'vitest';
import { GuestPool } from '../guest/lesson.js';
import { ClamdStartError, startClamdInGuest } from './daemon.js';
import { putEicar } from './eicar.js';
import { databaseOf, SIGNATURES } from './samples.js';

async function guestWithHostRoot() {
	const vm = new GuestPool();
	onTestFinished(() => vm.closeAll());
	return vm.guest({ hostRoot: true });
}

test('clamd in a guest answers on its socket, scans, and stops', async () => {
	const guest = await guestWithHostRoot();
	const clamd = await startClamdInGuest(guest, { databaseDir: databaseOf({ 'eicar.hdb': '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n' }) });
	expect(clamd.socket).toBe('/run/lab-clamd/clamd.sock');
	expect((await guest.run(`test -S ${clamd.socket}`)).status).toBe(0);
	await putEicar(guest, '/tmp/eicar.com');
	expect(await clamd.scan(['/tmp/eicar.com', '/bin/true'])).toEqual({
		'/tmp/eicar.com': { verdict: 'found', signature: SIGNATURES.eicar, official: false },
		'/bin/true': { verdict: 'clean' },
	});
	const pid = await clamd.process.pid;
	await clamd.stop();
	expect(await guest.procState(pid), 'clamd should be gone after stop()').toBeUndefined();
	expect((await guest.run(`test -e ${clamd.socket}`)).status, 'clamd removes its socket when it exits').not.toBe(0);
});

test('a malformed database in the guest: clamd\'s own reason in the error', async () => {
	const guest = await guestWithHostRoot();
	const err = await startClamdInGuest(guest, { databaseDir: databaseOf({ 'bad.hdb': 'not a signature\n' }) }).catch((e: unknown) => e);
	expect(err).toBeInstanceOf(ClamdStartError);
	expect(String(err)).toMatch(/clamd exited \(status 1\) in the guest before answering PING/);
	expect(String(err)).toMatch(/Malformed database/);
});
