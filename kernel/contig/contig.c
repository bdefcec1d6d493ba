// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 2.6: physically contiguous memory is scarce. In chapter 1 malloc() of hundreds of MB
 * just worked: user memory is only virtually contiguous and pages arrive on first touch.
 * kmalloc() and alloc_pages() hand out physically contiguous blocks from the buddy allocator,
 * whose largest block is order MAX_ORDER - 1 (2^10 pages = 4 MB on x86-64), so bigger requests
 * fail however much memory is free. vmalloc() maps single pages into one virtual range and
 * succeeds as long as pages are free.
 *
 * At load the module tries each allocation once, frees it at once, and reports every result as
 * a TAP line in the kernel log ("ok" = the allocation succeeded). It then stays loaded, idle.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

static bool try_kmalloc(size_t size)
{
	void *p = NULL;

	/* TODO(2.6) BEGIN: p = kmalloc(size, GFP_KERNEL) */
	p = kmalloc(size, GFP_KERNEL);
	/* TODO(2.6) END */
	if (!p)
		return false;
	kfree(p);
	return true;
}

static bool try_alloc_pages(unsigned int order)
{
	struct page *pages = NULL;

	/* TODO(2.6) BEGIN: pages = alloc_pages(GFP_KERNEL, order): 2^order contiguous pages */
	pages = alloc_pages(GFP_KERNEL, order);
	/* TODO(2.6) END */
	if (!pages)
		return false;
	__free_pages(pages, order);
	return true;
}

/* Pages of a vmalloc area that do not follow the previous one physically: where runs start. */
static unsigned long physical_runs(const void *area, size_t size)
{
	unsigned long runs = 0, prev_pfn = 0, pfn;
	size_t off;

	for (off = 0; off < size; off += PAGE_SIZE) {
		pfn = vmalloc_to_pfn(area + off);
		if (off == 0 || pfn != prev_pfn + 1)
			runs++;
		prev_pfn = pfn;
	}
	return runs;
}

static bool try_vmalloc(size_t size)
{
	void *p = NULL;

	/* TODO(2.6) BEGIN: p = vmalloc(size) */
	p = vmalloc(size);
	/* TODO(2.6) END */
	if (!p)
		return false;
	pr_info("# vmalloc %zu MB: %zu pages in %lu physically contiguous runs\n",
		size / SZ_1M, size / PAGE_SIZE, physical_runs(p, size));
	vfree(p);
	return true;
}

static int __init contig_init(void)
{
	int n = 0;

	pr_info("TAP version 13\n");
	pr_info("1..7\n");
	pr_info("%s %d - kmalloc 1 MB\n", try_kmalloc(SZ_1M) ? "ok" : "not ok", ++n);
	pr_info("%s %d - kmalloc 4 MB\n", try_kmalloc(SZ_4M) ? "ok" : "not ok", ++n);
	pr_info("%s %d - kmalloc 8 MB\n", try_kmalloc(SZ_8M) ? "ok" : "not ok", ++n);
	pr_info("%s %d - kmalloc 64 MB\n", try_kmalloc(SZ_64M) ? "ok" : "not ok", ++n);
	pr_info("%s %d - alloc_pages order 10\n", try_alloc_pages(10) ? "ok" : "not ok", ++n);
	pr_info("%s %d - alloc_pages order 11\n", try_alloc_pages(11) ? "ok" : "not ok", ++n);
	pr_info("%s %d - vmalloc 64 MB\n", try_vmalloc(SZ_64M) ? "ok" : "not ok", ++n);
	return 0;
}

static void __exit contig_exit(void)
{
	pr_info("unloaded\n");
}

module_init(contig_init);
module_exit(contig_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Lesson 2.6: kmalloc, alloc_pages and vmalloc of growing sizes");
