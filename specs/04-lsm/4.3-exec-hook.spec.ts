import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import { loadExecgate, moduleFile, moduleLog, prepareFixture } from './support.js';

const DIR = '/tmp/lab';
const LOOPS = 200;
// more than PATH_MAX (4096) bytes in all: d_path() cannot name the file
const COMPONENT = 'd'.repeat(250);
const DEPTH = 17;

/** Kilobytes of unreclaimable slab memory plus vmalloc, where a lost path buffer would stay. */
const kernelKb = `awk '/^(SUnreclaim|VmallocUsed):/ { kb += $2 } END { print kb }' /proc/meminfo`;

lesson(
	{
		id: '4.3',
		title: {
			en: 'Hook execve: bprm_check_security logs the resolved path of every program (symlink target, script and interpreter), one line each, freeing its buffer every time',
			ja: 'execve のフック: bprm_check_security で実行されるファイルの解決済みパス名を記録する（シンボリックリンクは実体、スクリプトは本体とインタプリタ）。1 行ずつ、バッファは毎回解放',
		},
		hint: {
			en: 'kernel/execgate/hook.c, execgate_check_exec(): kmalloc(PATH_MAX, GFP_KERNEL) (return -ENOMEM if it fails), path = d_path(&bprm->file->f_path, buf, PATH_MAX); on IS_ERR(path) log "exec of a file without a usable path (<error>), pid <pid>" and pass NULL on; else pr_info("exec %*pE (pid %d)\\n", (int)strlen(path), path, task_tgid_nr(current)) — %*pE escapes newlines and other control bytes. Then ret = execgate_decide(bprm, path), and kfree(buf) on every way out.',
			ja: 'kernel/execgate/hook.c の execgate_check_exec(): kmalloc(PATH_MAX, GFP_KERNEL) で確保し（失敗したら -ENOMEM）、path = d_path(&bprm->file->f_path, buf, PATH_MAX) で解決します。IS_ERR(path) なら "exec of a file without a usable path (<エラー>), pid <pid>" を記録して NULL を渡し、そうでなければ pr_info("exec %*pE (pid %d)\\n", (int)strlen(path), path, task_tgid_nr(current))（%*pE は改行などの制御文字をエスケープします）。そのあと ret = execgate_decide(bprm, path) を呼び、どの経路でも kfree(buf) してください。',
		},
		files: [moduleFile('hook.c')],
		requires: ['4.2'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		await loadExecgate(guest, 'ask=0');
		await prepareFixture(guest, 'hello-exec', `${DIR}/true`);
		const setup = await guest.run(
			`ln -s ${DIR}/true ${DIR}/link && ` +
				`printf '#!/bin/sh\\nexit 3\\n' > ${DIR}/script.sh && chmod +x ${DIR}/script.sh && ` +
				`cp ${DIR}/true "$(printf '${DIR}/a b\\nc')"`,
		);
		expect(setup.status, setup.output).toBe(0);

		// a symlink: the log names the file it leads to, not the link
		const viaLink = await guest.run(`${DIR}/link; echo "rc=$?"`);
		expect(viaLink.stdout).toBe('hello-exec ran\nrc=0\n');
		let log = await moduleLog(guest);
		expect(log, `exec of the symlink ${DIR}/link should be logged as its target ${DIR}/true:\n${log}`).toMatch(new RegExp(`^exec ${DIR}/true \\(pid \\d+\\)$`, 'm'));
		expect(log, 'the log shows the resolved path, never the name of the link').not.toMatch(/^exec .*link/m);

		// a relative name: the log shows the absolute path
		await guest.run(`cd ${DIR} && ./true`);
		log = await moduleLog(guest);
		expect(log, 'a relative exec ("./true") is logged with its absolute path').not.toMatch(/^exec \.\//m);

		// a #! script: once for the script, once more for its interpreter, same process
		const script = await guest.run(`${DIR}/script.sh; echo "rc=$?"`);
		expect(script.stdout, 'the script runs').toBe('rc=3\n');
		log = await moduleLog(guest);
		const scriptLine = new RegExp(`^exec ${DIR}/script\\.sh \\(pid (\\d+)\\)$`, 'm').exec(log);
		expect(scriptLine, `the script itself should be logged:\n${log}`).not.toBeNull();
		const interpreter = `exec /bin/busybox (pid ${scriptLine?.[1]})`;
		const after = log.slice((scriptLine?.index ?? 0) + (scriptLine?.[0].length ?? 0));
		expect(after, `then its interpreter /bin/sh, resolved to /bin/busybox, in the same process: "${interpreter}"`).toContain(`\n${interpreter}\n`);

		// a newline in the name must not split the log line (nor forge a second one)
		await guest.run(`"$(printf '${DIR}/a b\\nc')"`);
		log = await moduleLog(guest);
		expect(log, 'a name with a space and a newline is logged on one line, the newline escaped as \\n').toMatch(new RegExp(`^exec ${DIR}/a b\\\\nc \\(pid \\d+\\)$`, 'm'));

		// a path longer than PATH_MAX: d_path() fails, the exec still runs, the error path is logged
		const deep = await guest.run(
			`cd ${DIR} && i=0 && while [ $i -lt ${DEPTH} ]; do mkdir ${COMPONENT} && cd -P ${COMPONENT} || exit 1; i=$((i+1)); done && ` +
				`cp ${DIR}/true ./true && ./true`,
		);
		expect(deep.stdout, deep.output).toBe('hello-exec ran\n');
		log = await moduleLog(guest);
		expect(log, 'an exec whose path does not fit in PATH_MAX is logged as such').toMatch(/^exec of a file without a usable path \(-36\), pid \d+$/m);

		// every buffer is freed: many execs, both ways out of the hook, leave no kernel memory behind
		const leak = await guest.run(
			`cd ${DIR} && i=0 && while [ $i -lt ${DEPTH} ]; do cd -P ${COMPONENT}; i=$((i+1)); done; ` +
				`sync; echo 3 > /proc/sys/vm/drop_caches; before=$(${kernelKb}); ` +
				`i=0; while [ $i -lt ${LOOPS} ]; do ${DIR}/true >/dev/null; ./true >/dev/null; i=$((i+1)); done; ` +
				`sync; echo 3 > /proc/sys/vm/drop_caches; after=$(${kernelKb}); echo "$before $after"`,
			{ timeoutMs: guest.ms(120_000) },
		);
		const [before, afterKb] = leak.stdout.trim().split(' ').map(Number);
		const grownKb = afterKb - before;
		// a lost 4 KB buffer per exec would be 2 * LOOPS * 4 KB = 1600 KB
		expect(grownKb, `${2 * LOOPS} execs grew unreclaimable kernel memory by ${grownKb} KB: a buffer is not freed on some path`).toBeLessThan(400);
		log = await moduleLog(guest);
		expect(log.split('\n').filter((l) => l.startsWith('exec ')).length, 'one line per exec').toBeGreaterThan(2 * LOOPS);
		expect(guest).not.toHaveKernelEvent('oops');
		expect(guest).not.toHaveKernelEvent('warning');
	},
);
