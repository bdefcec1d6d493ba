// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 4.3: the execve hook.
 *
 * bprm_check_security runs once the file to execute is open, and once more for each
 * interpreter a binary format hands over to (a #! script, then its interpreter). bprm->filename
 * is the name the caller gave; the file's own path comes from d_path() on bprm->file, which
 * resolves symlinks, "..", the working directory and the caller's chroot. The path may hold any
 * byte but '\0', a newline too, so the log escapes it (%*pE) and one exec stays one line.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dcache.h>
#include <linux/err.h>
#include <linux/limits.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "execgate.h"

int execgate_check_exec(struct linux_binprm *bprm)
{
	int ret = 0;
	/* TODO(4.3) BEGIN: kmalloc a PATH_MAX buffer, d_path() bprm->file into it, log it, ask execgate_decide(), kfree on every path */
	char *buf = kmalloc(PATH_MAX, GFP_KERNEL);
	const char *path;

	if (!buf)
		return -ENOMEM;
	path = d_path(&bprm->file->f_path, buf, PATH_MAX);
	if (IS_ERR(path)) {
		pr_info("exec of a file without a usable path (%ld), pid %d\n", PTR_ERR(path),
			task_tgid_nr(current));
		path = NULL;
	} else {
		pr_info("exec %*pE (pid %d)\n", (int)strlen(path), path, task_tgid_nr(current));
	}
	ret = execgate_decide(bprm, path);
	kfree(buf);
	/* TODO(4.3) END */
	return ret;
}
