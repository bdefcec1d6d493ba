/* SPDX-License-Identifier: GPL-2.0 */
/* What the parts of execgate share: parameters, and one entry point per lesson. */
#ifndef EXECGATE_H
#define EXECGATE_H

#include <linux/binfmts.h>
#include <linux/fs.h>
#include <linux/lsm_hooks.h>

#ifndef CONFIG_X86_64
#error "execgate decodes x86-64 machine code and page tables: x86-64 only"
#endif

/* Module parameters (main.c). */
extern char *execgate_ro_write;
extern bool execgate_ask;
extern bool execgate_fail_closed;
extern unsigned int execgate_timeout_ms;
extern bool execgate_pass_fd;
extern bool execgate_cache_on;

/* Lesson 4.1 (locate.c): the address of security_hook_heads, or an ERR_PTR. */
struct security_hook_heads *execgate_find_heads(void);

/*
 * The twin of an exported hook walker (locate.c). Neither may be static: the compiler would
 * see a list that nothing ever fills and leave out the walk whose code we compare.
 */
extern struct security_hook_heads execgate_twin_heads;
void execgate_twin_walker(struct inode *inode);

/* Lesson 4.2 (rowrite.c): store one pointer in __ro_after_init memory. */
int execgate_write_ro(void **where, void *value);

/* Lesson 4.3 (hook.c): what the bprm_check_security hook does for one exec. */
int execgate_check_exec(struct linux_binprm *bprm);

/* Lesson 4.4 (channel.c): the relay's verdict on one exec, as 0 or -EPERM. */
int execgate_decide(struct linux_binprm *bprm, const char *path);
u64 execgate_queries(void);
int execgate_channel_init(void);
void execgate_channel_stop(void);
void execgate_channel_exit(void);

/*
 * The optional verdict cache (cache.c, not a lesson). A ticket is what an exec saw of its
 * inode when it looked the cache up; the relay's allow is stored with it.
 */
struct execgate_cache_ticket {
	bool valid;			/* the inode may be cached and cache=1 */
	struct super_block *sb;
	unsigned long ino;
	u32 generation;
	struct timespec64 ctime;
	struct timespec64 mtime;
	loff_t size;
	u64 flushes;			/* flushes seen before the relay was asked */
};

bool execgate_cache_lookup(struct file *file, struct execgate_cache_ticket *t, u64 *serial);
void execgate_cache_store(const struct execgate_cache_ticket *t, u64 serial);
void execgate_cache_relay_changed(void);
void execgate_cache_arm(void);
void execgate_cache_disarm(void);
int execgate_cache_file_open(struct file *file);
int execgate_cache_inode_setattr(struct dentry *dentry, struct iattr *attr);
void execgate_cache_sb_delete(struct super_block *sb);

#endif /* EXECGATE_H */
