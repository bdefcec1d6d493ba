import { expect } from 'vitest';
import { startClamdInGuest } from '../../clamav/daemon.js';
import { putEicar } from '../../clamav/eicar.js';
import { SIGNATURES, baseDatabase, buildMarker } from '../../clamav/samples.js';
import { lesson } from '../../guest/lesson.js';
import { DEVICE, loadExecgate, moduleLog, prepareFixture, decisionsFor, decisionsIn, startRelay } from './support.js';

const DIR = '/tmp/lab';

lesson(
	{
		id: '4.5',
		title: {
			en: 'The relay: reads the queries, asks clamd (SCAN in an IDSESSION), answers allow or deny, denies when clamd fails, caches verdicts, logs each decision, stops cleanly on SIGTERM',
			ja: 'リレー: 問い合わせを読み、clamd に尋ね（IDSESSION の SCAN）、allow か deny で答える。clamd が失敗したら拒否し、判定をキャッシュし、判定ごとに 1 行記録し、SIGTERM できれいに止まる',
		},
		hint: {
			en: 'clamav/relay.ts: parseQuery() matches "Q <serial> <pid> <fd> <hex path or ->" exactly and decodes the hex into a Buffer; cacheKey() joins dev, ino, size, mtimeNs and ctimeNs; Relay.scan() runs inside this.limiter.run(): a handed fd is streamed (session.instream(createReadStream("", { fd, start: 0, autoClose: false }))), a UTF-8 path goes to session.scan(), any other path is streamed; clean allows, found denies with the signature, an error (or a thrown ClamdError) goes to this.failed(); main() calls served.stop() once on SIGTERM and SIGINT.',
			ja: 'clamav/relay.ts: parseQuery() は "Q <通し番号> <pid> <fd> <16 進のパスか ->" だけに一致させ、16 進を Buffer に戻します。cacheKey() は dev・ino・size・mtimeNs・ctimeNs をつなげます。Relay.scan() は this.limiter.run() の中で、渡された fd なら session.instream(createReadStream("", { fd, start: 0, autoClose: false }))、UTF-8 のパスなら session.scan()、それ以外のパスはストリームで送ります。clean なら許可、found ならシグネチャ付きで拒否、エラー（または投げられた ClamdError）は this.failed() に任せます。main() は SIGTERM と SIGINT で served.stop() を一度呼びます。',
		},
		files: ['clamav/relay.ts'],
		requires: ['4.4'],
		timeoutMs: 180_000,
	},
	async ({ vm }) => {
		const guest = await vm.guest({ hostRoot: true });
		const [database, marker] = await Promise.all([baseDatabase(), buildMarker()]);
		// the relay answers in tens of milliseconds; a relay that cannot parse the queries costs this much per exec
		await loadExecgate(guest, 'timeout_ms=5000');
		const clamd = await startClamdInGuest(guest, { databaseDir: database });
		await prepareFixture(guest, 'hello-exec', `${DIR}/clean`);
		await guest.upload(marker.file, `${DIR}/marker`);
		await putEicar(guest, `${DIR}/eicar.com`);
		await guest.run(`chmod +x ${DIR}/eicar.com ${DIR}/marker`);

		const relay = await startRelay(guest, `--clamd ${clamd.socket} --max-scans 2`);

		// clean: allowed after clamd scanned it by path
		const clean = await guest.run(`${DIR}/clean`);
		expect(clean.stdout, `a clean program runs: ${clean.output}\n--- relay ---\n${relay.output()}`).toBe('hello-exec ran\n');
		expect(decisionsFor(relay.output(), `${DIR}/clean`)[0], `the relay logs its decision:\n${relay.output()}`).toMatchObject({ answer: 'allow', verdict: 'clean', cached: false });

		// detected: denied with EPERM; the shell reports 126
		for (const [file, signature] of [
			[`${DIR}/marker`, SIGNATURES.markerHash],
			[`${DIR}/eicar.com`, SIGNATURES.eicar],
		]) {
			const r = await guest.run(file);
			expect({ status: r.status, stderr: r.stderr }, `${file} is detected: its exec must fail with EPERM`).toMatchObject({ status: 126, stderr: expect.stringMatching(/Operation not permitted/) });
			expect(decisionsFor(relay.output(), file)[0], `the relay's decision about ${file}`).toMatchObject({ answer: 'deny', verdict: 'found', signature });
		}

		// the cache: running it again is not rescanned; a changed file is
		await guest.run(`${DIR}/clean`);
		expect(decisionsFor(relay.output(), `${DIR}/clean`).map((d) => d.cached), 'the second exec of an unchanged file is answered from the cache').toEqual([false, true]);
		await guest.run(`cat ${DIR}/clean > ${DIR}/clean.new && printf x >> ${DIR}/clean.new && cat ${DIR}/clean.new > ${DIR}/clean && ${DIR}/clean`);
		expect(decisionsFor(relay.output(), `${DIR}/clean`).map((d) => d.cached), 'a changed file is scanned again').toEqual([false, true, false]);

		// every answer the module got was one logged decision of the relay
		const kernel = await moduleLog(guest);
		const answered = [...kernel.matchAll(/^(?:allow|deny) .*: the relay (?:allows|denies) \(query (\d+),/gm)].map((m) => Number(m[1]));
		const logged = decisionsIn(relay.output()).map((d) => d.serial);
		expect(answered.length, 'the module got answers').toBeGreaterThan(5);
		expect(logged.filter((s) => answered.includes(s)).sort(), 'one decision line per answer').toEqual([...answered].sort());

		// clamd gone: a file not in the cache is denied (on-error deny); known ones still run
		// (cp is one of them: it runs now, while clamd can still clear it)
		await guest.run(`cp ${DIR}/clean ${DIR}/unscanned`);
		await clamd.stop();
		const unscanned = await guest.run(`${DIR}/unscanned`, { timeoutMs: guest.ms(30_000) });
		expect(unscanned.status, `with clamd gone, an unscanned program must be denied: ${unscanned.output}`).toBe(126);
		expect(decisionsFor(relay.output(), `${DIR}/unscanned`)[0]).toMatchObject({ answer: 'deny', verdict: 'error' });

		// SIGTERM: the relay says BYE, finishes, logs and exits 0; the device is free again
		relay.kill(15);
		const stopped = await relay.result;
		expect(stopped.status, `the relay should exit 0 on SIGTERM:\n${stopped.output.slice(-2000)}`).toBe(0);
		expect(stopped.stdout).toMatch(/^relay: stopping \(SIGTERM\)$/m);
		expect(stopped.stdout).toMatch(/^relay: stopped after \d+ decisions/m);
		const devrelay = await prepareFixture(guest, 'devrelay');
		expect((await guest.run(`${devrelay} probe`)).stdout, `${DEVICE} can be opened again once the relay is gone`).toContain('open ok');
		expect(guest).not.toHaveKernelEvent('oops');
	},
);
