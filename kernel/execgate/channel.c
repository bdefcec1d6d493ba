// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 4.4: asking user space. /dev/execgate carries queries to one relay and its answers
 * back; the protocol is described at the top of main.c.
 *
 * Each waiting exec has a struct query on its own stack, on the list `queries` until it is
 * settled. Whoever settles a query (an answer, the relay closing, the unload) takes it off the
 * list, sets its outcome and completes it, all under `lock`; a waiter that times out or is
 * killed takes itself off under the same lock. So nothing touches a query after its task
 * returned.
 *
 * Lesson 4.8: with pass_fd=1 the relay also gets a descriptor of the file being executed, so
 * it can scan what will run instead of whatever the path names by the time it looks.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/completion.h>
#include <linux/file.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/math64.h>
#include <linux/miscdevice.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include "execgate.h"

/* "Q <serial> <pid> <fd> <hex path>\n": 64 bytes hold everything but the path. */
#define EXECGATE_QUERY_MAX (64 + 2 * PATH_MAX)
/*
 * A decision's log line shows at most this many bytes of the path: printk cuts a line at about
 * 1000 bytes, and the outcome after the path must survive.
 */
#define EXECGATE_LOG_PATH_MAX 512
/* "A <serial> allow\n" with a 20-digit serial is 29 bytes. */
#define EXECGATE_ANSWER_MAX 48

enum outcome {
	OUTCOME_ALLOW,		/* the relay said allow */
	OUTCOME_DENY,		/* the relay said deny */
	OUTCOME_NO_RELAY,	/* nobody had the device open */
	OUTCOME_TIMEOUT,	/* the relay did not answer within timeout_ms */
	OUTCOME_RELAY_GONE,	/* the relay closed the device before answering */
	OUTCOME_UNLOADING,	/* the module is going away */
	OUTCOME_KILLED,		/* the exec-ing task got a fatal signal while it waited */
};

static const char *const outcome_text[] = {
	[OUTCOME_ALLOW] = "the relay allows",
	[OUTCOME_DENY] = "the relay denies",
	[OUTCOME_NO_RELAY] = "no relay",
	[OUTCOME_TIMEOUT] = "the relay is silent",
	[OUTCOME_RELAY_GONE] = "the relay is gone",
	[OUTCOME_UNLOADING] = "unloading",
	[OUTCOME_KILLED] = "killed while waiting",
};

struct query {
	struct list_head link;		/* on `queries` while unsettled */
	u64 serial;
	struct pid *tgid;		/* of the exec-ing task, alive while it waits */
	const char *path;		/* NULL: no usable name */
	size_t path_len;
	struct file *file;		/* bprm->file */
	u64 asked_at;			/* ktime_get_ns() when the exec began to wait */
	bool sent;			/* the relay has read it */
	bool with_fd;			/* and was handed the file with it (pass_fd=1) */
	enum outcome outcome;
	struct completion settled;
};

static DEFINE_SPINLOCK(lock);
static LIST_HEAD(queries);
static DECLARE_WAIT_QUEUE_HEAD(relay_wait);	/* the relay waits here for queries */
static struct pid *relay;	/* the relay's thread group, NULL when none */
static struct file *relay_file;	/* the open file that registered it */
static bool relay_leaving;	/* the relay wrote BYE: it takes no more queries */
static bool stopping;
static u64 last_serial;

/* Settle every query still waiting; the caller holds the lock. */
static void settle_all_locked(enum outcome outcome)
{
	struct query *q, *tmp;

	list_for_each_entry_safe(q, tmp, &queries, link) {
		list_del_init(&q->link);
		q->outcome = outcome;
		complete(&q->settled);
	}
}

/* The relay is gone: forget it and let every waiting query go; the caller holds the lock. */
static void unregister_relay_locked(void)
{
	/* TODO(4.4) BEGIN: put and forget the relay's pid and file, clear relay_leaving, settle every waiting query as OUTCOME_RELAY_GONE */
	put_pid(relay);
	relay = NULL;
	relay_file = NULL;
	relay_leaving = false;
	settle_all_locked(OUTCOME_RELAY_GONE);
	/* TODO(4.4) END */
}

/* Is current the relay, or a process the relay started (at any depth)? */
static bool in_relay_tree(void)
{
	bool found = false;
	/* TODO(4.4) BEGIN: under the lock and rcu_read_lock(), walk current->real_parent up to pid 0 comparing task_tgid() with relay */
	struct task_struct *t;

	spin_lock(&lock);
	if (relay) {
		rcu_read_lock();
		for (t = current; t->pid; t = rcu_dereference(t->real_parent)) {
			if (task_tgid(t) == relay) {
				found = true;
				break;
			}
		}
		rcu_read_unlock();
	}
	spin_unlock(&lock);
	/* TODO(4.4) END */
	return found;
}

/* Queue q for the relay and wait, killably and at most timeout_ms, until it is settled. */
static enum outcome ask_relay(struct query *q)
{
	enum outcome outcome = OUTCOME_NO_RELAY;
	/* TODO(4.4) BEGIN: queue q with the next serial while a relay is registered (and neither relay_leaving nor stopping), wake it, wait_for_completion_killable_timeout(), then take q off the list yourself if nobody settled it */
	long left;

	spin_lock(&lock);
	if (!relay || relay_leaving || stopping) {
		spin_unlock(&lock);
		return OUTCOME_NO_RELAY;
	}
	q->serial = ++last_serial;
	list_add_tail(&q->link, &queries);
	spin_unlock(&lock);
	wake_up_interruptible(&relay_wait);

	left = wait_for_completion_killable_timeout(&q->settled,
						    msecs_to_jiffies(READ_ONCE(execgate_timeout_ms)));
	spin_lock(&lock);
	if (list_empty(&q->link)) {
		outcome = q->outcome;
	} else {
		list_del_init(&q->link);
		outcome = left < 0 ? OUTCOME_KILLED : OUTCOME_TIMEOUT;
	}
	spin_unlock(&lock);
	/* TODO(4.4) END */
	return outcome;
}

/* The verdict cache (cache=1) allowed the exec: the decision line of the answer it reuses. */
static void log_cache_hit(const char *path, u64 serial, u64 ns)
{
	size_t len;

	if (!path)
		path = "(no usable path)";
	len = strlen(path);
	pr_info("allow %*pE%s: the cache allows (query %llu, %llu ms)\n",
		(int)min_t(size_t, len, EXECGATE_LOG_PATH_MAX), path,
		len > EXECGATE_LOG_PATH_MAX ? "..." : "", serial, div_u64(ns, NSEC_PER_MSEC));
}

int execgate_decide(struct linux_binprm *bprm, const char *path)
{
	struct query q = {
		.tgid = task_tgid(current),
		.path = path,
		.path_len = path ? strlen(path) : 0,
		.file = bprm->file,
	};
	struct execgate_cache_ticket ticket;
	enum outcome outcome;
	bool allow;

	if (!READ_ONCE(execgate_ask) || in_relay_tree())
		return 0;
	q.asked_at = ktime_get_ns();
	if (execgate_cache_lookup(bprm->file, &ticket, &q.serial)) {
		log_cache_hit(path, q.serial, ktime_get_ns() - q.asked_at);
		return 0;
	}
	INIT_LIST_HEAD(&q.link);
	init_completion(&q.settled);
	outcome = ask_relay(&q);
	switch (outcome) {
	case OUTCOME_ALLOW:
		allow = true;
		break;
	case OUTCOME_DENY:
	case OUTCOME_KILLED:
		allow = false;
		break;
	default:
		allow = !READ_ONCE(execgate_fail_closed);
	}
	/* TODO(4.6) BEGIN: log each decision: "<allow|deny> <path, %*pE, cut to EXECGATE_LOG_PATH_MAX bytes then "...">: <outcome_text>[, fail-open|fail-closed when the policy decided] (query <serial>, <ms waited> ms)" */
	if (!path) {
		path = "(no usable path)";
		q.path_len = strlen(path);
	}
	pr_info("%s %*pE%s: %s%s (query %llu, %llu ms)\n", allow ? "allow" : "deny",
		(int)min_t(size_t, q.path_len, EXECGATE_LOG_PATH_MAX), path,
		q.path_len > EXECGATE_LOG_PATH_MAX ? "..." : "", outcome_text[outcome],
		outcome >= OUTCOME_NO_RELAY && outcome <= OUTCOME_UNLOADING ?
		(allow ? ", fail-open" : ", fail-closed") : "",
		q.serial, div_u64(ktime_get_ns() - q.asked_at, NSEC_PER_MSEC));
	/* TODO(4.6) END */
	/* only what the relay scanned as this very file (pass_fd=1) is remembered: see cache.c */
	if (outcome == OUTCOME_ALLOW && q.with_fd)
		execgate_cache_store(&ticket, q.serial);
	if (outcome == OUTCOME_KILLED)
		return -EINTR;
	return allow ? 0 : -EPERM;
}

static int relay_open(struct inode *inode, struct file *file)
{
	int err = 0;
	/* TODO(4.4) BEGIN: refuse without CAP_SYS_ADMIN (EPERM) and while a relay is registered (EBUSY); else register get_pid(task_tgid(current)) and this file */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	spin_lock(&lock);
	if (relay) {
		err = -EBUSY;
	} else {
		relay = get_pid(task_tgid(current));
		relay_file = file;
	}
	spin_unlock(&lock);
	/* TODO(4.4) END */
	if (err)
		return err;
	execgate_cache_relay_changed();
	return stream_open(inode, file);
}

/*
 * Every close of a descriptor of the device comes here. When the relay itself exits, its
 * registration ends now, even if a process it started (or one it handed the descriptor to)
 * still holds the file: otherwise execs would wait out timeout_ms for a dead relay and no new
 * relay could open the device until that other process closed it.
 */
static int relay_flush(struct file *file, fl_owner_t id)
{
	bool left = false;

	if (!(current->flags & PF_EXITING))
		return 0;
	spin_lock(&lock);
	if (relay_file == file && task_tgid(current) == relay) {
		unregister_relay_locked();
		left = true;
	}
	spin_unlock(&lock);
	if (left)
		execgate_cache_relay_changed();
	return 0;
}

/* The last close: ends the registration if this file still holds it. */
static int relay_release(struct inode *inode, struct file *file)
{
	bool left = false;

	spin_lock(&lock);
	if (relay_file == file) {
		unregister_relay_locked();
		left = true;
	}
	spin_unlock(&lock);
	if (left)
		execgate_cache_relay_changed();
	return 0;
}

/*
 * Only the process that opened the device reads queries and answers them: not a child that
 * inherited its descriptor, nor a process that took it (pidfd_getfd(), SCM_RIGHTS).
 */
static bool current_is_relay(struct file *file)
{
	bool is;

	spin_lock(&lock);
	is = relay && relay_file == file && task_tgid(current) == relay;
	spin_unlock(&lock);
	return is;
}

/* The oldest query the relay has not read yet; the caller holds the lock. */
static struct query *first_unsent_locked(void)
{
	struct query *q;

	list_for_each_entry(q, &queries, link)
		if (!q->sent)
			return q;
	return NULL;
}

static bool query_waiting(void)
{
	bool waiting;

	spin_lock(&lock);
	waiting = first_unsent_locked() != NULL;
	spin_unlock(&lock);
	return waiting;
}

/* Something for a read() to return: a query, or the end after BYE. */
static bool read_ready(void)
{
	return query_waiting() || READ_ONCE(relay_leaving);
}

/* Write q's line into line (EXECGATE_QUERY_MAX bytes); returns its length. */
static size_t format_query(char *line, const struct query *q, int fd)
{
	size_t len = 0;
	/* TODO(4.4) BEGIN: "Q <serial> <pid> <fd> <path>\n", the pid by pid_vnr(), the path as hex (bin2hex) or "-" */
	len = scnprintf(line, EXECGATE_QUERY_MAX, "Q %llu %d %d ", q->serial, pid_vnr(q->tgid), fd);
	if (q->path)
		len = bin2hex(line + len, q->path, q->path_len) - line;
	else
		line[len++] = '-';
	line[len++] = '\n';
	/* TODO(4.4) END */
	return len;
}

/*
 * Wait for a query the relay has not read and format it into line. If fd is a reserved
 * descriptor, *exe gets a reference to the file being executed. Returns the line's length,
 * or 0 (end of file) once the relay has said BYE.
 */
static ssize_t take_query(struct file *file, char *line, size_t size, int fd,
			  struct file **exe, u64 *serial)
{
	struct query *q;
	size_t len;
	int err;

	for (;;) {
		if (file->f_flags & O_NONBLOCK) {
			if (!read_ready())
				return -EAGAIN;
		} else {
			err = wait_event_interruptible(relay_wait, read_ready());
			if (err)
				return err;
		}
		spin_lock(&lock);
		if (relay_leaving) {
			spin_unlock(&lock);
			return 0;
		}
		q = first_unsent_locked();
		if (q)
			break;
		spin_unlock(&lock);	/* settled before we got it: wait for the next */
	}
	len = format_query(line, q, fd);
	if (len > size) {
		spin_unlock(&lock);
		return -EINVAL;
	}
	q->sent = true;
	q->with_fd = fd >= 0;
	*serial = q->serial;
	if (fd >= 0)
		*exe = get_file(q->file);
	spin_unlock(&lock);
	return len;
}

/* The relay could not take the line after all: offer the query again. */
static void unsend(u64 serial)
{
	struct query *q;

	spin_lock(&lock);
	list_for_each_entry(q, &queries, link)
		if (q->serial == serial)
			q->sent = false;
	spin_unlock(&lock);
	wake_up_interruptible(&relay_wait);
}

static ssize_t relay_read(struct file *file, char __user *buf, size_t size, loff_t *ppos)
{
	struct file *exe = NULL;
	u64 serial = 0;
	int fd = -1;
	ssize_t len;
	char *line;

	if (!current_is_relay(file))
		return -EPERM;
	line = kmalloc(EXECGATE_QUERY_MAX, GFP_KERNEL);
	if (!line)
		return -ENOMEM;
	/* TODO(4.8) BEGIN: with pass_fd, reserve a descriptor first (get_unused_fd_flags(O_CLOEXEC)) so the line can name it */
	if (READ_ONCE(execgate_pass_fd)) {
		fd = get_unused_fd_flags(O_CLOEXEC);
		if (fd < 0) {
			kfree(line);
			return fd;
		}
	}
	/* TODO(4.8) END */
	len = take_query(file, line, size, fd, &exe, &serial);
	if (len > 0 && copy_to_user(buf, line, len)) {
		unsend(serial);
		len = -EFAULT;
	}
	kfree(line);
	if (exe && len > 0) {
		/* TODO(4.8) BEGIN: install exe at the reserved descriptor (fd_install) now that the relay has the line */
		fd_install(fd, exe);
		return len;
		/* TODO(4.8) END */
	}
	if (exe)
		fput(exe);
	if (fd >= 0)
		put_unused_fd(fd);
	return len;
}

/* "A <serial> allow" or "A <serial> deny", the newline already gone. */
static int parse_answer(char *text, u64 *serial, bool *allow)
{
	int err = -EINVAL;
	/* TODO(4.4) BEGIN: split on single spaces (strsep), check "A", kstrtou64() the serial (digits only, no leading zero), accept exactly "allow" or "deny" */
	char *rest = text;
	char *word;

	word = strsep(&rest, " ");
	if (strcmp(word, "A") || !rest)
		return -EINVAL;
	word = strsep(&rest, " ");
	/* one spelling per serial: kstrtou64() alone also takes "+5", "05" and "5\n" */
	if (!rest || word[strspn(word, "0123456789")] || (word[0] == '0' && word[1]) ||
	    kstrtou64(word, 10, serial))
		return -EINVAL;
	if (!strcmp(rest, "allow"))
		*allow = true;
	else if (!strcmp(rest, "deny"))
		*allow = false;
	else
		return -EINVAL;
	err = 0;
	/* TODO(4.4) END */
	return err;
}

/* Settle the sent query with this serial; -ENOENT if none waits for an answer. */
static int settle(u64 serial, bool allow)
{
	int err = -ENOENT;
	/* TODO(4.4) BEGIN: find the query that was sent with this serial, take it off the list, set its outcome, complete it */
	struct query *q;

	spin_lock(&lock);
	list_for_each_entry(q, &queries, link) {
		if (q->serial != serial || !q->sent)
			continue;
		list_del_init(&q->link);
		q->outcome = allow ? OUTCOME_ALLOW : OUTCOME_DENY;
		complete(&q->settled);
		err = 0;
		break;
	}
	spin_unlock(&lock);
	/* TODO(4.4) END */
	return err;
}

/* BYE: no more queries for this relay; the unsent ones get the fail policy now. */
static void relay_leaves(void)
{
	struct query *q, *tmp;

	spin_lock(&lock);
	relay_leaving = true;
	list_for_each_entry_safe(q, tmp, &queries, link) {
		if (q->sent)
			continue;
		list_del_init(&q->link);
		q->outcome = OUTCOME_RELAY_GONE;
		complete(&q->settled);
	}
	spin_unlock(&lock);
	wake_up_interruptible(&relay_wait);
}

static ssize_t relay_write(struct file *file, const char __user *buf, size_t size,
			   loff_t *ppos)
{
	char text[EXECGATE_ANSWER_MAX];
	bool allow = false;
	u64 serial = 0;
	int err;

	if (!current_is_relay(file))
		return -EPERM;
	if (size == 0 || size >= sizeof(text))
		return -EINVAL;
	if (copy_from_user(text, buf, size))
		return -EFAULT;
	/* the answer is parsed as a C string: a NUL would hide what follows it */
	if (memchr(text, '\0', size))
		return -EINVAL;
	text[size] = '\0';
	if (text[size - 1] == '\n')
		text[size - 1] = '\0';
	if (!strcmp(text, "BYE")) {
		relay_leaves();
		return size;
	}
	err = parse_answer(text, &serial, &allow);
	if (!err)
		err = settle(serial, allow);
	return err ? err : size;
}

static __poll_t relay_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &relay_wait, wait);
	return (read_ready() ? EPOLLIN | EPOLLRDNORM : 0) | EPOLLOUT | EPOLLWRNORM;
}

static const struct file_operations relay_fops = {
	.owner = THIS_MODULE,
	.open = relay_open,
	.flush = relay_flush,
	.release = relay_release,
	.read = relay_read,
	.write = relay_write,
	.poll = relay_poll,
	.llseek = no_llseek,
};

static struct miscdevice relay_device = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = KBUILD_MODNAME,
	.fops = &relay_fops,
	.mode = 0600,
};

/* Queries asked since the module was loaded. */
u64 execgate_queries(void)
{
	return READ_ONCE(last_serial);
}

int execgate_channel_init(void)
{
	return misc_register(&relay_device);
}

/* No new queries from now on; settle the waiting ones. */
void execgate_channel_stop(void)
{
	spin_lock(&lock);
	/* cannot be: the relay's open device holds a reference to the module */
	WARN_ON_ONCE(relay);
	stopping = true;
	settle_all_locked(OUTCOME_UNLOADING);
	spin_unlock(&lock);
}

void execgate_channel_exit(void)
{
	misc_deregister(&relay_device);
}
