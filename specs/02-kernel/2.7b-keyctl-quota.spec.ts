// Lesson 2.7b: a kernel memory quota for unprivileged users. A user can reach kernel
// allocations through many system calls, so the kernel charges some of them to the user: keys
// (add_key) count against a per-user quota of 200 keys and 20000 bytes
// (/proc/sys/kernel/keys/maxkeys, maxbytes; usage in /proc/key-users), and the next add_key
// fails with EDQUOT. The quota only works if every path is charged: CVE-2017-7472 was
// keyctl(KEYCTL_SET_REQKEY_KEYRING, KEY_REQKEY_DEFL_THREAD_KEYRING), which created a new thread
// keyring on every call, allowed past the quota (KEY_ALLOC_QUOTA_OVERRUN), and leaked it, so a
// loop of that call exhausted kernel memory as any user (fixed in 4.10.13 / 4.11 by creating the
// thread keyring only when there is none). On 6.1 the overrun is still allowed once: 201/200.
import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';

/** The "name: value" lines keyctl-quota prints. */
function fields(output: string): Record<string, string> {
	return Object.fromEntries(
		output
			.split('\n')
			.map((l) => /^([\w-]+): (.*)$/.exec(l))
			.filter((m): m is RegExpExecArray => m !== null)
			.map((m) => [m[1], m[2].trim()]),
	);
}

/** A /proc/key-users line: "uid: usage nkeys/nikeys qnkeys/maxkeys qnbytes/maxbytes". */
function keyUsers(line: string | undefined): { keys: number; maxKeys: number; bytes: number; maxBytes: number } {
	const m = /^\s*\d+:\s+\d+ \d+\/\d+ (\d+)\/(\d+) (\d+)\/(\d+)/.exec(line ?? '');
	if (!m) expect.fail(`not a /proc/key-users line: ${JSON.stringify(line)}`);
	return { keys: +m[1], maxKeys: +m[2], bytes: +m[3], maxBytes: +m[4] };
}

lesson(
	{
		id: '2.7b',
		title: {
			en: 'keyctl: the per-user key quota (maxkeys, maxbytes) stops an unprivileged user from filling kernel memory with keys: add_key fails with EDQUOT',
			ja: 'keyctl: ユーザごとの鍵のクォータ（maxkeys, maxbytes）が、一般ユーザが鍵でカーネルメモリを埋め尽くすのを止める: add_key は EDQUOT で失敗する',
		},
		hint: {
			en: 'userspace/keyctl-quota/keyctl-quota.c, fill_quota(): loop (at most MAX_KEYS times) calling add_key("user", desc, payload, payload_size, KEY_SPEC_PROCESS_KEYRING) with a new description each time ("lab-key-<n>"); count the keys added, and when add_key fails store errno in *err and stop.',
			ja: 'userspace/keyctl-quota/keyctl-quota.c の fill_quota(): 毎回別の説明文（"lab-key-<n>"）で add_key("user", desc, payload, payload_size, KEY_SPEC_PROCESS_KEYRING) を呼ぶループを書き（最大 MAX_KEYS 回）、追加できた数を数え、add_key が失敗したら errno を *err に入れて止めてください。',
		},
		files: ['userspace/keyctl-quota/keyctl-quota.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const program = await guest.prepareProgram('keyctl-quota', { static: true });
		expect(program.build.warnings, 'gcc -Wall -Wextra should print no warnings').toEqual([]);
		const limits = (await guest.run('cat /proc/sys/kernel/keys/maxkeys /proc/sys/kernel/keys/maxbytes')).stdout.split('\n').map(Number);
		const [maxKeys, maxBytes] = limits;

		// many small keys: the key count runs out (the process keyring itself is a key too)
		const small = await guest.run(`${program.path} fill 1`, { uid: 1000 });
		expect(small.status, small.output).toBe(0);
		const byCount = fields(small.stdout);
		expect(byCount.error, `add_key as uid 1000 should end with EDQUOT after about ${maxKeys} keys; it added ${byCount.added}`).toMatch(/^EDQUOT/);
		const countQuota = keyUsers(byCount['key-users']);
		expect(Number(byCount.added)).toBeGreaterThan(maxKeys - 5);
		expect(countQuota.maxKeys).toBe(maxKeys);
		expect(countQuota.keys, '/proc/key-users: keys charged to uid 1000 when add_key refused').toBe(maxKeys);

		// a few big keys: the byte quota runs out first
		const big = await guest.run(`${program.path} fill 4096`, { uid: 1001 });
		const byBytes = fields(big.stdout);
		expect(byBytes.error, `4 KB keys as uid 1001 should end with EDQUOT; it added ${byBytes.added}`).toMatch(/^EDQUOT/);
		const bytesQuota = keyUsers(byBytes['key-users']);
		expect(Number(byBytes.added), `4096-byte keys that fit in ${maxBytes} bytes`).toBe(Math.floor(maxBytes / 4096));
		expect(bytesQuota.bytes + 4096, 'bytes charged plus one more key would pass maxbytes').toBeGreaterThan(maxBytes);
		expect(bytesQuota.keys).toBeLessThan(maxKeys);

		// CVE-2017-7472: each call used to leak a new thread keyring past the quota; fixed kernels
		// create it once (and still let that one keyring overrun the quota by one)
		const cve = await guest.run(`${program.path} thread-keyrings 1000`, { uid: 1002 });
		const thread = fields(cve.stdout);
		expect(thread.calls, cve.output).toBe('1000');
		const before = keyUsers(thread['key-users']);
		const after = keyUsers(thread['key-users-after']);
		expect(before.keys).toBe(maxKeys);
		expect(after.keys, 'keys charged after 1000 thread-keyring requests (a kernel with CVE-2017-7472 leaks one per call)').toBeLessThanOrEqual(maxKeys + 1);
	},
);
