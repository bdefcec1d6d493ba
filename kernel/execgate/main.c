// SPDX-License-Identifier: GPL-2.0
/*
 * execgate: a loadable module that asks user space whether a program may run.
 *
 * Chapter 4 of the course, one file per step:
 *   locate.c   4.1  find the non-exported security_hook_heads, two independent ways
 *   rowrite.c  4.2  write into __ro_after_init memory through a writable alias
 *   hook.c     4.3  the bprm_check_security hook: log the resolved path of every exec
 *   channel.c  4.4  /dev/execgate: queries to one relay in user space, answers back
 *                   (4.8: hand the relay the opened file instead of a path)
 *   main.c          parameters, adding and removing the hooks, unloading safely
 *   cache.c         not a lesson: an optional verdict cache (cache=1), off by default
 *
 * Linux 6.1 has no API for a module to add LSM hooks (security_add_hooks() is __init), and
 * the hook lists are read-only after boot. This module appends one security_hook_list to
 * security_hook_heads.bprm_check_security anyway, the way AKARI did. Since 6.12 the hooks are
 * static calls with slots fixed at build time, so this stops working there.
 *
 * The device protocol of /dev/execgate (misc device, mode 0600):
 *
 *   open     Only a process with CAP_SYS_ADMIN may open it (EPERM otherwise, whatever the
 *            file mode says), and only one at a time: that process is the relay. A second
 *            open fails with EBUSY until the relay's last descriptor is closed. Reads and
 *            writes by any other process fail with EPERM, even through a descriptor of the
 *            relay's (inherited by a child, or taken with pidfd_getfd()).
 *   read     Blocks until an exec waits for a verdict (EAGAIN with O_NONBLOCK; poll() says
 *            POLLIN), then returns exactly one query, one line:
 *
 *              Q <serial> <pid> <fd> <path>\n
 *
 *            serial  decimal, unique while the module is loaded
 *            pid     the exec-ing process (thread group), as the relay's pid namespace sees it
 *            fd      with pass_fd=1, a read-only descriptor of the very file being executed,
 *                    installed in the relay (close-on-exec; the relay must close it); else -1
 *            path    the resolved path of that file (d_path of bprm->file: symlinks resolved,
 *                    " (deleted)" appended to unlinked files), as lowercase hex, two digits per
 *                    byte, so spaces, newlines and bytes that are not UTF-8 pass unchanged;
 *                    "-" when the file has no usable name (longer than PATH_MAX)
 *
 *            A buffer too small for the line fails with EINVAL and the query stays queued;
 *            EXECGATE_QUERY_MAX (64 + 2 * PATH_MAX) bytes are always enough.
 *   write    Exactly one answer per write(), the newline optional:
 *
 *              A <serial> allow\n        or        A <serial> deny\n
 *
 *            The serial is spelled as the query spelled it: no sign, no leading zero.
 *            Anything else fails with EINVAL (a NUL byte too: "A 7 deny\0" is not an answer);
 *            a serial that is not waiting for an answer
 *            (unknown, answered already, timed out, its task killed) fails with ENOENT.
 *
 *              BYE\n
 *
 *            The relay is leaving: no more queries are queued for it, those it has not read
 *            are settled by the fail policy at once, and its reads return 0 (end of file), so
 *            a relay blocked in read() can finish. Queries it has read may still be answered.
 *   close    When the relay exits, or the last descriptor of its open file is closed, every
 *            exec still waiting is settled by the fail policy and the next open may register
 *            (a child holding an inherited descriptor does not keep a dead relay registered).
 *
 * An exec-ing task waits killably, at most timeout_ms. Without a relay, when the relay stays
 * silent, or when it goes away, the exec is allowed, or denied with fail_closed=1. The relay's
 * own process and all its descendants are never asked: its work must not wait on itself.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/wait_bit.h>
#include "execgate.h"

static bool install = true;
module_param(install, bool, 0444);
MODULE_PARM_DESC(install, "add the exec hook (0: only find security_hook_heads, lesson 4.1)");

char *execgate_ro_write = "alias";
module_param_named(ro_write, execgate_ro_write, charp, 0444);
MODULE_PARM_DESC(ro_write, "how to write the read-only hook list: alias (a writable second mapping) or direct (faults: lesson 4.2)");

bool execgate_ask = true;
module_param_named(ask, execgate_ask, bool, 0644);
MODULE_PARM_DESC(ask, "ask the relay on /dev/execgate about every exec (0: only log it, lesson 4.3)");

bool execgate_fail_closed;
module_param_named(fail_closed, execgate_fail_closed, bool, 0644);
MODULE_PARM_DESC(fail_closed, "deny an exec no relay answered: none registered, silent past timeout_ms, or gone (default: allow)");

unsigned int execgate_timeout_ms = 5000;
module_param_named(timeout_ms, execgate_timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms, "how long an exec waits for the relay's answer");

bool execgate_pass_fd;
module_param_named(pass_fd, execgate_pass_fd, bool, 0644);
MODULE_PARM_DESC(pass_fd, "hand the relay a descriptor of the opened file with each query (lesson 4.8)");

static struct security_hook_heads *heads;
/* Tasks inside our hook right now, and all that ever entered it. */
static atomic_t hooks_running = ATOMIC_INIT(0);
static atomic_long_t hook_calls = ATOMIC_LONG_INIT(0);

static int execgate_bprm_check_security(struct linux_binprm *bprm)
{
	int ret;

	atomic_inc(&hooks_running);
	atomic_long_inc(&hook_calls);
	ret = execgate_check_exec(bprm);
	if (atomic_dec_and_test(&hooks_running))
		wake_up_var(&hooks_running);
	return ret;
}

static struct security_hook_list execgate_hook = {
	.hook = { .bprm_check_security = execgate_bprm_check_security },
	.lsm = KBUILD_MODNAME,
};

/*
 * The verdict cache's hooks (cache.c): whatever may change a file drops its verdict, and a
 * super_block that goes takes its verdicts along. They never sleep and never refuse, and they
 * are on their lists whatever cache says, so that turning it on at run time misses no write.
 */
static struct security_hook_list cache_hooks[] = {
	{ .hook = { .file_open = execgate_cache_file_open }, .lsm = KBUILD_MODNAME },
	{ .hook = { .inode_setattr = execgate_cache_inode_setattr }, .lsm = KBUILD_MODNAME },
	{ .hook = { .sb_delete = execgate_cache_sb_delete }, .lsm = KBUILD_MODNAME },
};

/* The list each of cache_hooks goes on. */
static struct hlist_head *cache_head(int i)
{
	switch (i) {
	case 0:
		return &heads->file_open;
	case 1:
		return &heads->inode_setattr;
	default:
		return &heads->sb_delete;
	}
}

/* How many of cache_hooks are on their lists. */
static unsigned int cache_hooks_added;

/* Log the LSMs on one hook list, in the order the kernel calls them. */
static void show_hooks(const char *when)
{
	struct security_hook_list *p;
	char names[128] = "";
	size_t used = 0;

	hlist_for_each_entry(p, &heads->bprm_check_security, list)
		used += scnprintf(names + used, sizeof(names) - used, " %s", p->lsm);
	pr_info("%s: bprm_check_security calls%s\n", when, used ? names : " nobody");
}

/*
 * Append h to the list at head. The list is walked without locks, so h is complete before
 * the one store that makes it reachable; that store is to read-only memory.
 */
static int hook_add(struct hlist_head *head, struct security_hook_list *h)
{
	struct hlist_node **link = &head->first;

	while (*link)
		link = &(*link)->next;
	h->head = head;
	h->list.next = NULL;
	h->list.pprev = link;
	smp_wmb();
	return execgate_write_ro((void **)link, &h->list);
}

/* Unlink h. Tasks walking the list may still be on h: its own next pointer stays valid. */
static void hook_del(struct security_hook_list *h)
{
	struct hlist_node *next = h->list.next;
	int err;

	/* the module's code is about to go: retry rather than leave the hook linked */
	while ((err = execgate_write_ro((void **)h->list.pprev, next))) {
		pr_warn("unlinking the hook failed (%d), retrying\n", err);
		msleep(100);
	}
	if (next)
		WRITE_ONCE(next->pprev, h->list.pprev);
}

static void remove_hooks(void);

static int __init execgate_init(void)
{
	int err;

	heads = execgate_find_heads();
	if (IS_ERR(heads))
		return PTR_ERR(heads);
	pr_info("security_hook_heads is at %px\n", heads);
	if (!install)
		return 0;

	err = execgate_channel_init();
	if (err)
		return err;
	show_hooks("before");
	err = hook_add(&heads->bprm_check_security, &execgate_hook);
	if (err) {
		pr_err("could not add the hook: %d\n", err);
		goto err_channel;
	}
	show_hooks("after");
	for (; cache_hooks_added < ARRAY_SIZE(cache_hooks); cache_hooks_added++) {
		err = hook_add(cache_head(cache_hooks_added), &cache_hooks[cache_hooks_added]);
		if (err) {
			pr_err("could not add the verdict cache's hooks: %d\n", err);
			goto err_hooks;
		}
	}
	execgate_cache_arm();
	pr_info("loaded: ask=%d fail_closed=%d timeout_ms=%u pass_fd=%d cache=%d\n", execgate_ask,
		execgate_fail_closed, execgate_timeout_ms, execgate_pass_fd, execgate_cache_on);
	return 0;

err_hooks:
	remove_hooks();
	return err;
err_channel:
	execgate_channel_exit();
	return err;
}

/* Take every hook off, wait until no task is in any of them, close the device. */
static void remove_hooks(void)
{
	execgate_cache_disarm();
	while (cache_hooks_added > 0)
		hook_del(&cache_hooks[--cache_hooks_added]);
	hook_del(&execgate_hook);
	show_hooks("unloading");
	/*
	 * Hook lists are walked without rcu_read_lock(): a task may have read our node but not
	 * yet called us. RCU Tasks waits until every task has been off the CPU voluntarily or in
	 * user space since the unlink, so such a walk has ended or has entered the hook.
	 */
	synchronize_rcu_tasks();
	/* wake the execs that still wait for an answer, and wait until they have left */
	execgate_channel_stop();
	wait_var_event(&hooks_running, !atomic_read(&hooks_running));
	/* and until the last of them has returned past its atomic_dec_and_test() */
	synchronize_rcu_tasks();
	execgate_channel_exit();
}

static void __exit execgate_exit(void)
{
	if (!install)
		return;
	remove_hooks();
	pr_info("unloaded after %ld execs, %llu queries to the relay\n",
		atomic_long_read(&hook_calls), execgate_queries());
}

module_init(execgate_init);
module_exit(execgate_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Chapter 4: an execve hook that asks a relay in user space (AKARI-style, Linux 6.1)");
