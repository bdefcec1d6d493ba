// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 2.7: a kernel memory leak that user space can drive. Every write to /proc/kleak copies
 * the data into kernel memory and never frees it. In chapter 1 a leaking process was the OOM
 * killer's obvious victim, and its death gave the memory back. Memory the kernel leaks belongs
 * to no process: killing processes frees none of it, so the OOM killer kills the innocent ones
 * (biggest first), then the writer, and when nothing is left to kill the kernel panics.
 *
 * Reading /proc/kleak tells how many bytes were written (and kept) so far.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

static atomic_long_t bytes_written = ATOMIC_LONG_INIT(0);
static struct proc_dir_entry *kleak_entry;

static ssize_t kleak_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	/* TODO(2.7) BEGIN: kvmalloc() count bytes, copy_from_user() into them, never free */
	void *copy = kvmalloc(count, GFP_KERNEL);

	if (!copy)
		return -ENOMEM;
	if (copy_from_user(copy, buf, count)) {
		kvfree(copy);
		return -EFAULT;
	}
	/* TODO(2.7) END */
	atomic_long_add(count, &bytes_written);
	return count;
}

static ssize_t kleak_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	char line[48];
	int len = scnprintf(line, sizeof(line), "%ld bytes written\n", atomic_long_read(&bytes_written));

	return simple_read_from_buffer(buf, count, ppos, line, len);
}

static const struct proc_ops kleak_ops = {
	.proc_read = kleak_read,
	.proc_write = kleak_write,
	.proc_lseek = default_llseek,
};

static int __init kleak_init(void)
{
	kleak_entry = proc_create("kleak", 0666, NULL, &kleak_ops);
	if (!kleak_entry)
		return -ENOMEM;
	pr_info("/proc/kleak ready\n");
	return 0;
}

static void __exit kleak_exit(void)
{
	proc_remove(kleak_entry);
	pr_info("removed /proc/kleak; %ld bytes stay lost\n", atomic_long_read(&bytes_written));
}

module_init(kleak_init);
module_exit(kleak_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Lesson 2.7: a /proc file whose writes leak kernel memory");
