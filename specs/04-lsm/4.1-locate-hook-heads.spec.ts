import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import { MODULE, loadExecgate, moduleFile, moduleLog } from './support.js';

lesson(
	{
		id: '4.1',
		title: {
			en: 'Where the hooks live: security_hook_heads found by kallsyms_lookup_name and by decoding a hook walker, both equal to /proc/kallsyms',
			ja: 'フックの在りか: kallsyms_lookup_name とフック走査関数の機械語解読の二通りで security_hook_heads を見つけ、/proc/kallsyms と一致させる',
		},
		hint: {
			en: 'kernel/execgate/locate.c: in heads_by_name() register a kprobe on "kallsyms_lookup_name", keep kp.addr, unregister it and call it for "security_hook_heads". In heads_by_code() scan the first bytes of execgate_twin_walker() for the 32-bit displacement d at offset i with twin+i+4+d == &execgate_twin_heads.inode_invalidate_secctx, check that security_inode_invalidate_secctx() has the same three instruction bytes before i, and decode its displacement the same way, minus offsetof(struct security_hook_heads, inode_invalidate_secctx).',
			ja: 'kernel/execgate/locate.c: heads_by_name() では "kallsyms_lookup_name" に kprobe を登録して kp.addr を取り、登録を解除してから "security_hook_heads" を引きます。heads_by_code() では execgate_twin_walker() の先頭から、twin+i+4+d == &execgate_twin_heads.inode_invalidate_secctx となる 32 ビット変位 d の位置 i を探し、security_inode_invalidate_secctx() の i の直前 3 バイト（命令）が同じことを確かめ、同じ位置の変位を同じ式で解いて offsetof(struct security_hook_heads, inode_invalidate_secctx) を引きます。',
		},
		files: [moduleFile('locate.c')],
	},
	async ({ vm }) => {
		const guest = await vm.guest({ kaslr: true }); // a random address every boot: nothing to hard-code
		// install=0: only find the heads and report them; nothing is written
		await loadExecgate(guest, 'install=0');
		const log = await moduleLog(guest);

		const kallsyms = (await guest.run("grep -E ' security_hook_heads$' /proc/kallsyms")).stdout.trim();
		const truth = /^([0-9a-f]{16}) [dDbB] security_hook_heads$/.exec(kallsyms)?.[1];
		expect(truth, `/proc/kallsyms should list security_hook_heads with its address: "${kallsyms}"`).toBeDefined();
		expect(truth, 'root reads real addresses from /proc/kallsyms (kptr_restrict)').not.toBe('0000000000000000');

		const byName = /^security_hook_heads by kallsyms_lookup_name: ([0-9a-f]{16})$/m.exec(log)?.[1];
		const byCode = /^security_hook_heads by decoding security_inode_invalidate_secctx: ([0-9a-f]{16})$/m.exec(log)?.[1];
		expect(byName, `the module should log the address kallsyms_lookup_name gave (%px), at ${truth}; its log:\n${log}`).toBe(truth);
		expect(byCode, `the module should log the address decoded from security_inode_invalidate_secctx (%px), at ${truth}; its log:\n${log}`).toBe(truth);
		expect(log).toMatch(new RegExp(`^security_hook_heads is at ${truth}$`, 'm'));

		const unload = await guest.rmmod(MODULE);
		expect(unload.status, `rmmod: ${unload.output}`).toBe(0);
		expect(guest).not.toHaveKernelEvent('oops');
		expect(guest).not.toHaveKernelEvent('warning');
	},
);
