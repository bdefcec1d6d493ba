// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 4.2: __ro_after_init.
 *
 * security_hook_heads, and the hook lists of the built-in LSMs, sit in .data..ro_after_init:
 * written during boot, then mapped read-only for good (mark_rodata_ro()), so that a kernel bug
 * cannot be turned into rewriting the security hooks. A plain store faults:
 * "#PF: error_code(0x0003) - permissions violation" and an oops. The page itself is ordinary
 * memory, though: a second, writable mapping of it (vmap) lets the store through.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include "execgate.h"

/* The page behind a kernel address: the kernel image and the direct map, or vmalloc/modules. */
static struct page *page_of(const void *addr)
{
	unsigned long a = (unsigned long)addr;

	if (is_vmalloc_addr(addr) || (a >= MODULES_VADDR && a < MODULES_END))
		return vmalloc_to_page(addr);
	return virt_to_page(addr);
}

/* Store value at where, which lies in page, through a second, writable mapping of that page. */
static int write_through_alias(struct page *page, void **where, void *value)
{
	int err = -EOPNOTSUPP;
	/* TODO(4.2) BEGIN: vmap() the page a second time with PAGE_KERNEL, store value at the same offset in it, vunmap() */
	void *alias = vmap(&page, 1, VM_MAP, PAGE_KERNEL);

	if (!alias)
		return -ENOMEM;
	WRITE_ONCE(*(void **)(alias + offset_in_page(where)), value);
	vunmap(alias);
	err = 0;
	/* TODO(4.2) END */
	return err;
}

int execgate_write_ro(void **where, void *value)
{
	if (!strcmp(execgate_ro_write, "direct")) {
		/* the negative control of lesson 4.2: this store faults */
		pr_info("storing to %px directly\n", where);
		WRITE_ONCE(*where, value);
		return 0;
	}
	return write_through_alias(page_of(where), where, value);
}
