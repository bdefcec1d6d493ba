// SPDX-License-Identifier: GPL-2.0
/*
 * insmod FILE [SYMBOL=VALUE]...: the guest's module loader, in place of busybox's applet.
 *
 * It prints what busybox's insmod prints and exits with the same status (the errno), but it
 * loads with finit_module() only. When finit_module() fails, busybox tries again with
 * init_module() (for compressed modules), so a module whose init returned an error had its
 * init run twice: every log line twice, every side effect twice. A lesson must see one init.
 *
 * Build: gcc -O2 -static -Wall -Wextra -Werror -o insmod insmod.c
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* busybox's words for the errors a load reports in its own way */
static const char *reason(int err)
{
	switch (err) {
	case ENOEXEC:
		return "invalid module format";
	case ENOENT:
		return "unknown symbol in module, or unknown parameter";
	case ESRCH:
		return "module has wrong symbol version";
	case ENOSYS:
		return "kernel does not support requested operation";
	}
	return strerror(err);
}

int main(int argc, char **argv)
{
	size_t len = 1;
	char *options, *end;
	int fd, i, err;

	if (argc < 2) {
		fprintf(stderr, "usage: insmod FILE [SYMBOL=VALUE]...\n");
		return 1;
	}
	/* as busybox joins them: each parameter followed by one space */
	for (i = 2; i < argc; i++)
		len += strlen(argv[i]) + 1;
	options = malloc(len);
	if (!options) {
		perror("insmod");
		return 1;
	}
	end = options;
	*end = '\0';
	for (i = 2; i < argc; i++)
		end += sprintf(end, "%s ", argv[i]);

	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		fprintf(stderr, "insmod: can't insert '%s': %s\n", argv[1], strerror(err));
		return err;
	}
	if (syscall(SYS_finit_module, fd, options, 0) != 0) {
		err = errno;
		fprintf(stderr, "insmod: can't insert '%s': %s\n", argv[1], reason(err));
		return err;
	}
	return 0;
}
