// SPDX-License-Identifier: GPL-2.0
/*
 * An optional verdict cache inside the module (parameter cache, off by default).
 *
 * Not a lesson: no TODO region, no spec of chapter 4 turns it on, and with cache=0 (the
 * default) nothing here changes what any exec does. It exists for speed (issue 8): under TCG
 * the round trip to the relay in node costs several times a bare exec, even when the relay
 * answers from its own cache.
 *
 * With cache=1, an exec the relay allowed is remembered; the next exec of the same, unchanged
 * file is allowed without asking, and logged as "allow <path>: the cache allows (query <serial
 * of the answer reused>, <ms> ms)". Denials, timeouts and every outcome of the fail policy are
 * never remembered.
 *
 * Why this is safe, and where it is not used:
 *
 * - The key is the inode itself: its super_block, i_ino and i_generation (a deleted inode's
 *   number can come back, its generation is random on tmpfs, ext4 and xfs). A hit also needs
 *   the ctime, mtime and i_size remembered at the exec to be unchanged. The super_block's
 *   entries go when it is shut down (sb_delete), so a new super_block at the same address
 *   starts empty.
 *
 * - Timestamps alone cannot prove a file unchanged: they come from a coarse clock (one tick,
 *   4 ms at HZ=250), and a shared writable mapping updates mtime only at the first store to a
 *   clean page, not at the stores after it, nor at a store made later. What does prove
 *   it is write access. Every change of a file's content happens while the inode's write
 *   access is held (i_writecount > 0): a write(), a writable MAP_SHARED mapping, fallocate,
 *   io_uring, copy_file_range or a reflink need a descriptor opened for writing, and
 *   do_dentry_open() takes write access before it calls the file_open hook; every truncation
 *   takes it before notify_change() calls the inode_setattr hook with ATTR_SIZE. Both hooks
 *   here drop the inode's entry. Not path_truncate: it names the path the caller used, and
 *   truncate(2) through overlayfs reaches the upper inode by ovl_setattr() -> notify_change()
 *   with no path_truncate for it (nfsd's SETATTR neither): only the ctime and size would have
 *   told, and not of a shrink and a regrowth to the old size (zeros) within the tick of the
 *   file's last change. An exec holds the opposite (deny_write_access()) from the open of the file
 *   until the exec is over, and for as long as the program runs: a writer cannot open the file
 *   meanwhile (ETXTBSY), and a writer holding it open makes the exec fail. So between the exec
 *   that remembered a verdict and any later change there is always one of those hooks, and
 *   from then on the inode asks the relay again.
 *
 * - That chain has one gap: files made by alloc_file_pseudo() (memfd_create(), SysV shared
 *   memory) get a writable descriptor without do_dentry_open(), hold no write access, and can
 *   be executed while writable. They live on internal mounts (SB_KERNMOUNT): never cached.
 *
 * - Only local filesystems whose content the kernel sees change: tmpfs, ext4 (also ext2/3)
 *   and xfs. Not btrfs: a snapshot shares one super_block with its origin and gives its
 *   files the same i_ino and i_generation. Not 9p, NFS, FUSE, CIFS (a server can change a file
 *   without this kernel's knowledge), nor overlayfs (its inode is not the one written).
 *   Writing a disk's blocks beneath its filesystem (the block device, a loop device's backing
 *   file, a network block device) is not seen either, but the same is true of the relay's own
 *   cache and of the exec that follows a scan.
 *
 * - Only an answer to a query sent with a descriptor (pass_fd=1) is remembered. With
 *   pass_fd=0 the relay scans whatever the path names when it looks (lesson 4.8): a verdict
 *   about another file, won by a rename race, would stay with this inode.
 *
 * - The relay may know other signatures than the last one: the whole cache is flushed when a
 *   relay registers or leaves, when cache is set (to 0 or 1), and at unload. A verdict whose
 *   query began before a flush is not stored after it (generation). clamd reloading its
 *   database under the same relay flushes nothing (nor does the relay's own cache): restart
 *   the relay, or set cache, after a signature update.
 *
 * The table is fixed (CACHE_SLOTS, hashed by super_block and i_ino, a collision replaces the
 * old entry) under one spinlock: nothing is allocated in the exec or open path.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dcache.h>
#include <linux/hash.h>
#include <linux/magic.h>
#include <linux/moduleparam.h>
#include <linux/path.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include "execgate.h"

#define CACHE_BITS 9
#define CACHE_SLOTS (1 << CACHE_BITS)

struct cache_entry {
	struct super_block *sb;		/* NULL: the slot is free */
	unsigned long ino;
	u32 generation;
	struct timespec64 ctime;
	struct timespec64 mtime;
	loff_t size;
	u64 serial;			/* the query whose answer this is */
};

static DEFINE_SPINLOCK(cache_lock);
static struct cache_entry table[CACHE_SLOTS];
/* Bumped by every flush: a verdict asked for before it is not stored after it. */
static u64 flushes;
/*
 * All of the hooks that drop entries are on their lists: until then (loading) and from the
 * moment they start to come off (unloading) nothing is looked up or stored.
 */
static bool armed;

bool execgate_cache_on;

static void flush_locked(void)
{
	memset(table, 0, sizeof(table));
	flushes++;
}

static void cache_flush(const char *why)
{
	spin_lock(&cache_lock);
	flush_locked();
	spin_unlock(&cache_lock);
	pr_debug("verdict cache flushed: %s\n", why);
}

static int cache_set(const char *val, const struct kernel_param *kp)
{
	int err = param_set_bool(val, kp);

	if (!err)
		cache_flush("cache set");
	return err;
}

static const struct kernel_param_ops cache_ops = {
	.set = cache_set,
	.get = param_get_bool,
};

module_param_cb(cache, &cache_ops, &execgate_cache_on, 0644);
MODULE_PARM_DESC(cache, "remember the relay's allow verdicts per unchanged inode (pass_fd=1 only; tmpfs, ext4, xfs) and skip the relay for them (default off)");

/* May this inode's verdict be remembered at all? */
static bool cacheable(const struct inode *inode)
{
	const struct super_block *sb = inode->i_sb;

	if (sb->s_flags & SB_KERNMOUNT)
		return false;
	switch (sb->s_magic) {
	case TMPFS_MAGIC:
	case EXT4_SUPER_MAGIC:
	case XFS_SUPER_MAGIC:
		return true;
	default:
		return false;
	}
}

static struct cache_entry *slot_of(const struct super_block *sb, unsigned long ino)
{
	return &table[hash_long(ino ^ (unsigned long)sb, CACHE_BITS)];
}

static bool same_inode(const struct cache_entry *e, const struct inode *inode)
{
	return e->sb == inode->i_sb && e->ino == inode->i_ino &&
	       e->generation == inode->i_generation;
}

bool execgate_cache_lookup(struct file *file, struct execgate_cache_ticket *t, u64 *serial)
{
	struct inode *inode = file_inode(file);
	struct cache_entry *e;
	bool hit = false;

	t->valid = false;
	if (!READ_ONCE(execgate_cache_on) || !cacheable(inode))
		return false;
	/* the exec holds deny_write_access(): only the times can change meanwhile */
	t->sb = inode->i_sb;
	t->ino = inode->i_ino;
	t->generation = inode->i_generation;
	t->ctime = inode->i_ctime;
	t->mtime = inode->i_mtime;
	t->size = i_size_read(inode);

	spin_lock(&cache_lock);
	t->flushes = flushes;
	t->valid = armed;
	e = slot_of(t->sb, t->ino);
	if (armed && same_inode(e, inode) && timespec64_equal(&e->ctime, &t->ctime) &&
	    timespec64_equal(&e->mtime, &t->mtime) && e->size == t->size) {
		*serial = e->serial;
		hit = true;
	}
	spin_unlock(&cache_lock);
	return hit;
}

void execgate_cache_store(const struct execgate_cache_ticket *t, u64 serial)
{
	struct cache_entry *e;

	if (!t->valid)
		return;
	spin_lock(&cache_lock);
	if (armed && READ_ONCE(execgate_cache_on) && t->flushes == flushes) {
		e = slot_of(t->sb, t->ino);
		e->sb = t->sb;
		e->ino = t->ino;
		e->generation = t->generation;
		e->ctime = t->ctime;
		e->mtime = t->mtime;
		e->size = t->size;
		e->serial = serial;
	}
	spin_unlock(&cache_lock);
}

/* Forget the inode's verdict: it is about to be written, or truncated. */
static void cache_drop(struct inode *inode, const char *why)
{
	struct cache_entry *e;
	bool dropped = false;

	if (!inode || !cacheable(inode))
		return;
	e = slot_of(inode->i_sb, inode->i_ino);
	spin_lock(&cache_lock);
	if (same_inode(e, inode)) {
		e->sb = NULL;
		dropped = true;
	}
	spin_unlock(&cache_lock);
	if (dropped)
		pr_debug("verdict dropped: inode %lu on %s, %s\n", inode->i_ino, inode->i_sb->s_id,
			 why);
}

/* The file_open hook: write access is already held here (do_dentry_open()). */
int execgate_cache_file_open(struct file *file)
{
	if ((file->f_mode & FMODE_WRITE) || (file->f_flags & O_TRUNC))
		cache_drop(file_inode(file), "opened for writing");
	return 0;
}

/*
 * The inode_setattr hook, called by notify_change() for the very inode it changes: a new size
 * is a truncation, by truncate(2), ftruncate(2) or O_TRUNC, or by overlayfs or nfsd on the real
 * inode (write access held in all of them).
 */
int execgate_cache_inode_setattr(struct dentry *dentry, struct iattr *attr)
{
	if (attr->ia_valid & ATTR_SIZE)
		cache_drop(d_backing_inode(dentry), "truncated");
	return 0;
}

/* The sb_delete hook: the super_block is shut down, its address may come back. */
void execgate_cache_sb_delete(struct super_block *sb)
{
	int i;

	spin_lock(&cache_lock);
	for (i = 0; i < CACHE_SLOTS; i++)
		if (table[i].sb == sb)
			table[i].sb = NULL;
	spin_unlock(&cache_lock);
}

/* A relay registered or left: its successor may know other signatures. */
void execgate_cache_relay_changed(void)
{
	cache_flush("the relay changed");
}

/* The hooks that drop entries are all on their lists now. */
void execgate_cache_arm(void)
{
	spin_lock(&cache_lock);
	flush_locked();
	armed = true;
	spin_unlock(&cache_lock);
}

/* Before the first of those hooks comes off: from now on every exec asks. */
void execgate_cache_disarm(void)
{
	spin_lock(&cache_lock);
	flush_locked();
	armed = false;
	spin_unlock(&cache_lock);
}
