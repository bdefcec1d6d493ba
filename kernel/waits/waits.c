// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 2.2: waits and loops in the kernel. In chapter 1 a stuck process died with SIGKILL;
 * here the stuck code runs in insmod's kernel context, where a signal only acts when the code
 * itself looks for it. One module, several cases (mode=):
 *
 *   double_lock    mutex_lock() twice: insmod sleeps in D state for ever, SIGKILL stays pending
 *   killable_lock  a kthread holds the lock; mutex_lock_killable() waits, SIGKILL ends the wait
 *   spin           busy loop calling nothing: on one CPU the whole system stops (soft lockup)
 *   spin_yielding  busy loop with cond_resched(): others run, but SIGKILL is still ignored
 *   spin_killable  cond_resched() and fatal_signal_pending(): the loop can be killed
 *
 * The loops end by themselves after seconds= (default 30), so a frozen guest comes back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>

static char *mode = "double_lock";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "double_lock, killable_lock, spin, spin_yielding or spin_killable");

static unsigned int seconds = 30;
module_param(seconds, uint, 0444);
MODULE_PARM_DESC(seconds, "how long the spin modes loop");

static DEFINE_MUTEX(lesson_lock);
static DECLARE_COMPLETION(holder_has_lock);

/* mode=double_lock: a mutex is not recursive; the second lock waits for ourselves. */
static int lock_twice(void)
{
	/* TODO(2.2) BEGIN: take lesson_lock with mutex_lock(), then take it again */
	mutex_lock(&lesson_lock);
	pr_info("took the lock once, taking it again\n");
	mutex_lock(&lesson_lock);
	/* TODO(2.2) END */
	return 0;
}

/* The other task of mode=killable_lock: it holds lesson_lock until it is told to stop. */
static int hold_lock(void *unused)
{
	mutex_lock(&lesson_lock);
	complete(&holder_has_lock);
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
	mutex_unlock(&lesson_lock);
	return 0;
}

/* mode=killable_lock: wait for a lock another task holds, in a way SIGKILL can end. */
static int lock_killable(void)
{
	struct task_struct *holder;
	int ret = 0;

	holder = kthread_run(hold_lock, NULL, "waits_holder");
	if (IS_ERR(holder))
		return PTR_ERR(holder);
	wait_for_completion(&holder_has_lock);

	/* TODO(2.2) BEGIN: ret = mutex_lock_killable(&lesson_lock); on success unlock it again */
	ret = mutex_lock_killable(&lesson_lock);
	pr_info("mutex_lock_killable() returned %d\n", ret);
	if (!ret)
		mutex_unlock(&lesson_lock);
	/* TODO(2.2) END */

	kthread_stop(holder);
	return ret;
}

/* mode=spin: nothing in the loop gives the CPU away or looks at signals. */
static int spin(void)
{
	/* TODO(2.2) BEGIN: loop until jiffies passes now + seconds * HZ, calling only cpu_relax() */
	unsigned long end = jiffies + seconds * HZ;

	while (time_before(jiffies, end))
		cpu_relax();
	/* TODO(2.2) END */
	return 0;
}

/* mode=spin_yielding: cond_resched() lets other tasks run, signals are still ignored. */
static int spin_yielding(void)
{
	/* TODO(2.2) BEGIN: the same loop, calling cond_resched() in every round */
	unsigned long end = jiffies + seconds * HZ;

	while (time_before(jiffies, end))
		cond_resched();
	/* TODO(2.2) END */
	return 0;
}

/* mode=spin_killable: a long loop in process context must give way and must be killable. */
static int spin_killable(void)
{
	/* TODO(2.2) BEGIN: also return -EINTR as soon as fatal_signal_pending(current) */
	unsigned long end = jiffies + seconds * HZ;

	while (time_before(jiffies, end)) {
		if (fatal_signal_pending(current)) {
			pr_info("fatal signal pending: stopping the loop\n");
			return -EINTR;
		}
		cond_resched();
	}
	/* TODO(2.2) END */
	return 0;
}

static int __init waits_init(void)
{
	pr_info("mode=%s\n", mode);
	if (!strcmp(mode, "double_lock"))
		return lock_twice();
	if (!strcmp(mode, "killable_lock"))
		return lock_killable();
	if (!strcmp(mode, "spin"))
		return spin();
	if (!strcmp(mode, "spin_yielding"))
		return spin_yielding();
	if (!strcmp(mode, "spin_killable"))
		return spin_killable();
	pr_err("unknown mode=%s\n", mode);
	return -EINVAL;
}

static void __exit waits_exit(void)
{
	pr_info("unloaded\n");
}

module_init(waits_init);
module_exit(waits_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Lesson 2.2: sleeping and spinning in the kernel, killable and not");
