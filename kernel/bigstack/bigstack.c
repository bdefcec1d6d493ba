// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 2.5: local arrays on the kernel stack. In chapter 1 a program had 8 MB of stack that
 * grows on demand. A kernel thread stack is fixed at 16 KB on x86-64 (THREAD_SIZE), shared by
 * every function on the call chain and by interrupts, and it cannot grow. With VMAP_STACK it
 * lives in vmalloc space with an unmapped guard page below it, so running off its end faults
 * at once instead of silently overwriting whatever memory lies below.
 *
 * kb= picks the array: 4, 8 or 12 fit (gcc warns about each frame over 2048 bytes); 16 runs
 * into the guard page; 64 jumps over it into a neighbouring vmalloc area.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/sched/task_stack.h>
#include <linux/sizes.h>
#include <linux/string.h>

static unsigned int kb = 4;
module_param(kb, uint, 0444);
MODULE_PARM_DESC(kb, "size of the local array in KB: 4, 8, 12, 16 or 64");

/*
 * Fill the array and read it back through a call, so it must really exist on the stack.
 * (__maybe_unused: the starter's empty array functions do not call the helpers yet.)
 */
static noinline __maybe_unused unsigned long use_buffer(char *buf, size_t size)
{
	unsigned long sum = 0;
	size_t i;

	memset(buf, 0x5a, size);
	for (i = 0; i < size; i += 256)
		sum += (unsigned char)buf[i];
	return sum;
}

/* How much of the thread's stack is still free below the array. */
static __maybe_unused void report_room(const char *buf, size_t size)
{
	unsigned long base = (unsigned long)task_stack_page(current);

	pr_info("%zu KB array: %lu bytes of the %lu-byte stack left below it\n",
		size / SZ_1K, (unsigned long)buf - base, THREAD_SIZE);
}

static noinline int array_4k(void)
{
	/* TODO(2.5) BEGIN: declare char buf[SZ_4K]; call use_buffer() and report_room() on it */
	char buf[SZ_4K];

	use_buffer(buf, sizeof(buf));
	report_room(buf, sizeof(buf));
	/* TODO(2.5) END */
	return 0;
}

static noinline int array_8k(void)
{
	/* TODO(2.5) BEGIN: the same with char buf[SZ_8K] */
	char buf[SZ_8K];

	use_buffer(buf, sizeof(buf));
	report_room(buf, sizeof(buf));
	/* TODO(2.5) END */
	return 0;
}

static noinline int array_12k(void)
{
	/* TODO(2.5) BEGIN: the same with char buf[SZ_8K + SZ_4K] */
	char buf[SZ_8K + SZ_4K];

	use_buffer(buf, sizeof(buf));
	report_room(buf, sizeof(buf));
	/* TODO(2.5) END */
	return 0;
}

static noinline int array_16k(void)
{
	/* TODO(2.5) BEGIN: the same with char buf[SZ_16K]: as big as the whole stack */
	char buf[SZ_16K];

	use_buffer(buf, sizeof(buf));
	report_room(buf, sizeof(buf));
	/* TODO(2.5) END */
	return 0;
}

static noinline int array_64k(void)
{
	/* TODO(2.5) BEGIN: the same with char buf[SZ_64K]: four times the stack */
	char buf[SZ_64K];

	use_buffer(buf, sizeof(buf));
	report_room(buf, sizeof(buf));
	/* TODO(2.5) END */
	return 0;
}

static int __init bigstack_init(void)
{
	unsigned long base = (unsigned long)task_stack_page(current);

	pr_info("kb=%u, stack %px-%px, guard page below it\n",
		kb, (void *)base, (void *)(base + THREAD_SIZE));
	switch (kb) {
	case 4:
		return array_4k();
	case 8:
		return array_8k();
	case 12:
		return array_12k();
	case 16:
		return array_16k();
	case 64:
		return array_64k();
	}
	pr_err("kb must be 4, 8, 12, 16 or 64\n");
	return -EINVAL;
}

static void __exit bigstack_exit(void)
{
	pr_info("unloaded\n");
}

module_init(bigstack_init);
module_exit(bigstack_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Lesson 2.5: how big a local array the kernel stack holds");
