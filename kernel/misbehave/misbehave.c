// SPDX-License-Identifier: GPL-2.0
/*
 * misbehave: a student's module gone wrong, for the harness's own reliability specs
 * (specs/09-reliability/harness.spec.ts). It is no lesson: it shows that a module which hangs,
 * panics, floods the console or never returns from insmod fails its own spec with clear
 * evidence, and that the rest of the suite still runs.
 *
 *   insmod misbehave.ko how=none       load, say "loaded", return
 *   insmod misbehave.ko how=fail       say "loaded", then fail the load with -EINVAL (the
 *                                      harness's insmod must run the init once, not twice)
 *   insmod misbehave.ko how=hang       a kernel thread spins with preemption off: the CPU is
 *                                      lost for good (soft lockup), the guest stops answering
 *   insmod misbehave.ko how=panic      panic() during module_init
 *   insmod misbehave.ko how=flood      a kernel thread prints to the console without end
 *   insmod misbehave.ko how=noreturn   module_init sleeps uninterruptibly for ever: insmod
 *                                      never returns and cannot be killed
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/string.h>

static char *how = "none";
module_param(how, charp, 0444);
MODULE_PARM_DESC(how, "none, fail, hang, panic, flood or noreturn");

static struct task_struct *thread;

static int spin(void *unused)
{
	preempt_disable();
	for (;;)
		cpu_relax();
	return 0;
}

static int flood(void *unused)
{
	unsigned long n = 0;

	while (!kthread_should_stop()) {
		pr_info("flood line %lu: a module that never stops talking\n", n++);
		cond_resched();
	}
	return 0;
}

static int __init misbehave_init(void)
{
	pr_info("loaded (how=%s)\n", how);
	if (!strcmp(how, "fail"))
		return -EINVAL;
	if (!strcmp(how, "panic"))
		panic("misbehave: panic at load");
	if (!strcmp(how, "noreturn")) {
		/* one endless uninterruptible sleep (not msleep() in a loop: its wakeups would hide it
		 * from the hung task detector) */
		for (;;) {
			set_current_state(TASK_UNINTERRUPTIBLE);
			schedule();
		}
	}
	if (!strcmp(how, "hang") || !strcmp(how, "flood")) {
		thread = kthread_run(!strcmp(how, "hang") ? spin : flood, NULL, "misbehave-%s", how);
		if (IS_ERR(thread))
			return PTR_ERR(thread);
	}
	return 0;
}

static void __exit misbehave_exit(void)
{
	/* only how=none and how=flood get here: the others never give the module back */
	if (thread)
		kthread_stop(thread);
	pr_info("unloaded\n");
}

module_init(misbehave_init);
module_exit(misbehave_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A module gone wrong in four ways, for the harness's reliability specs");
