// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 4.1: where the hooks live.
 *
 * The LSM framework keeps one list per hook in struct security_hook_heads security_hook_heads,
 * which is neither exported nor at a fixed address (KASLR). Two independent ways find it, and
 * the module goes on only if they agree:
 *
 *  1. By name. kallsyms_lookup_name() knows every symbol but has not been exported since 5.7;
 *     a kprobe on it, registered and removed at once, tells its address.
 *  2. By machine code (AKARI's idea). security_inode_invalidate_secctx() is exported and only
 *     walks security_hook_heads.inode_invalidate_secctx. A twin compiled here with the same
 *     flags walks execgate_twin_heads instead: its machine code is the same except for the
 *     displacement of the one RIP-relative load of the list head. Where that displacement sits
 *     in the twin, the real function holds the displacement of the real list head.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/kprobes.h>
#include <linux/security.h>
#include <linux/string.h>
#include <asm/unaligned.h>
#include "execgate.h"

typedef unsigned long (*kallsyms_lookup_name_t)(const char *name);

/* Way 1: kallsyms_lookup_name("security_hook_heads"). */
static void *heads_by_name(void)
{
	void *found = NULL;
	/* TODO(4.1) BEGIN: register a kprobe on "kallsyms_lookup_name", keep kp.addr, unregister it, call it */
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	kallsyms_lookup_name_t lookup;
	int err;

	err = register_kprobe(&kp);
	if (err) {
		pr_err("kprobe on kallsyms_lookup_name: %d\n", err);
		return NULL;
	}
	lookup = (kallsyms_lookup_name_t)kp.addr;
	unregister_kprobe(&kp);
	found = (void *)lookup("security_hook_heads");
	/* TODO(4.1) END */
	return found;
}

struct security_hook_heads execgate_twin_heads;

noinline void execgate_twin_walker(struct inode *inode)
{
	struct security_hook_list *p;

	hlist_for_each_entry(p, &execgate_twin_heads.inode_invalidate_secctx, list)
		p->hook.inode_invalidate_secctx(inode);
}

/* The list head is loaded within the first instructions of the walker. */
#define CODE_SCAN_BYTES 64
/* A RIP-relative load is REX, opcode and ModRM, then the 32-bit displacement. */
#define OPERAND_PREFIX_BYTES 3

/* Way 2: decode the operand of security_inode_invalidate_secctx() that names its list head. */
static void *heads_by_code(void)
{
	void *found = NULL;
	/* TODO(4.1) BEGIN: find the twin's displacement that points at its list head; decode the same bytes in the real function */
	const u8 *twin = (const u8 *)execgate_twin_walker;
	const u8 *real = (const u8 *)security_inode_invalidate_secctx;
	const unsigned long twin_head = (unsigned long)&execgate_twin_heads.inode_invalidate_secctx;
	int i;

	for (i = OPERAND_PREFIX_BYTES; i + 4 <= CODE_SCAN_BYTES; i++) {
		/* a RIP-relative displacement counts from the end of its instruction */
		s32 disp = get_unaligned((const s32 *)(twin + i));

		if ((unsigned long)(twin + i + 4) + disp != twin_head)
			continue;
		if (memcmp(twin + i - OPERAND_PREFIX_BYTES, real + i - OPERAND_PREFIX_BYTES,
			   OPERAND_PREFIX_BYTES)) {
			pr_err("the twin and %ps differ at +%d: not the same instruction\n", real, i);
			return NULL;
		}
		disp = get_unaligned((const s32 *)(real + i));
		found = (void *)(real + i + 4 + disp) -
			offsetof(struct security_hook_heads, inode_invalidate_secctx);
		pr_info("the list head is the operand at %ps+%d\n", real, i - OPERAND_PREFIX_BYTES);
		break;
	}
	/* TODO(4.1) END */
	return found;
}

struct security_hook_heads *execgate_find_heads(void)
{
	void *by_name = heads_by_name();
	void *by_code = heads_by_code();

	pr_info("security_hook_heads by kallsyms_lookup_name: %px\n", by_name);
	pr_info("security_hook_heads by decoding security_inode_invalidate_secctx: %px\n", by_code);
	/* not ENOENT or EINVAL: insmod would call those an unknown symbol or a bad parameter */
	if (!by_name || !by_code) {
		pr_err("security_hook_heads was not found both ways\n");
		return ERR_PTR(-ENXIO);
	}
	if (by_name != by_code) {
		pr_err("the two ways disagree: touching neither address\n");
		return ERR_PTR(-EFAULT);
	}
	return by_name;
}
