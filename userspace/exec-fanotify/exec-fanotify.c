// SPDX-License-Identifier: GPL-2.0
/*
 * exec-fanotify: lesson 4.7, the same decision as execgate and its relay, without any kernel
 * module. fanotify (FAN_CLASS_CONTENT) lets a privileged process watch whole mounts and hold
 * every exec of a file there until it answers: FAN_OPEN_EXEC_PERM is raised when execve() (or
 * the loading of an interpreter) opens a file. Each event carries a descriptor of the opened
 * file, which goes to clamd as is (FILDES, the descriptor passed with SCM_RIGHTS), so clamd
 * scans exactly the file that will run, never whatever a path names later.
 * ClamAV's own on-access scanner, clamonacc, works this way with FAN_OPEN_PERM.
 *
 *   exec-fanotify --clamd SOCKET [--on-error deny|allow] [--timeout-ms 3000] MOUNT...
 *
 * Every MOUNT (a path on the mount to watch) is marked with FAN_MARK_MOUNT. Clean: allow.
 * Found: deny (execve fails with EPERM). clamd unreachable, too slow or reporting an error:
 * --on-error decides (deny by default). One line per decision on stdout, in the format of the
 * TypeScript relay:
 *
 *   decision serial=N pid=P fd=F answer=allow|deny verdict=clean|found|error [signature=S]
 *            [reason="..."] cached=no ms=M path="..."
 *
 * It answers one event at a time (so does clamonacc with --fdpass). SIGTERM or SIGINT: answer
 * the events already read, then exit 0. Whatever happens to this process, the kernel allows
 * every exec once the fanotify group is gone: fanotify cannot fail closed.
 *
 * Build: gcc -O2 -Wall -Wextra -o exec-fanotify exec-fanotify.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct options {
	const char *clamd;
	int deny_on_error;
	int timeout_ms;
};

struct verdict {
	int allow;
	const char *verdict;	/* clean, found, error */
	char detail[1152];	/* the signature, or the reason (a whole reply fits) */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Print s quoted: printable ASCII as is, '"' and '\' escaped, any other byte as \xHH. */
static void print_quoted(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p >= 0x20 && *p < 0x7f)
			putchar(*p);
		else
			printf("\\x%02x", *p);
	}
	putchar('"');
}

static void fail(struct verdict *v, const struct options *o, const char *fmt, const char *what)
{
	v->allow = !o->deny_on_error;
	v->verdict = "error";
	snprintf(v->detail, sizeof(v->detail), fmt, what);
}

/* Connect to clamd's unix socket with send and receive limits of timeout_ms. */
static int connect_clamd(const struct options *o)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = o->timeout_ms / 1000, .tv_usec = (o->timeout_ms % 1000) * 1000 };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	if (strlen(o->clamd) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		goto err;
	}
	strcpy(addr.sun_path, o->clamd);
	if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(s, (struct sockaddr *)&addr, sizeof(addr)))
		goto err;
	return s;
err:
	close(s);
	return -1;
}

/* Send "zFILDES\0", then one dummy byte carrying fd as SCM_RIGHTS. 0 on success. */
static int send_fildes(int sock, int fd)
{
	int ret = -1;

	if (sock < 0 || fd < 0)
		return -1;
	/* TODO(4.7) BEGIN: write "zFILDES" with its NUL, then sendmsg() one byte with a cmsg of SOL_SOCKET/SCM_RIGHTS holding fd */
	static const char command[] = "zFILDES";
	char dummy = 0;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = &dummy, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;

	if (write(sock, command, sizeof(command)) != (ssize_t)sizeof(command))
		return -1;
	memset(&control, 0, sizeof(control));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) == 1)
		ret = 0;
	/* TODO(4.7) END */
	return ret;
}

/* Ask clamd about the open file fd. */
static void scan_fd(int fd, const struct options *o, struct verdict *v)
{
	char reply[1024];
	size_t used = 0;
	char *body, *end;
	int sock = connect_clamd(o);

	if (sock < 0) {
		fail(v, o, "cannot connect to clamd: %s", strerror(errno));
		return;
	}
	if (send_fildes(sock, fd)) {
		fail(v, o, "cannot send the file to clamd: %s", strerror(errno));
		goto out;
	}
	/* the reply ends with NUL: "fd[N]: OK", "fd[N]: NAME FOUND" or "fd[N]: REASON ERROR" */
	while (used < sizeof(reply) - 1) {
		ssize_t n = read(sock, reply + used, sizeof(reply) - 1 - used);

		if (n <= 0) {
			fail(v, o, "no reply from clamd: %s", n ? strerror(errno) : "connection closed");
			goto out;
		}
		used += (size_t)n;
		if (memchr(reply, '\0', used))
			break;
	}
	reply[used] = '\0';
	body = strstr(reply, ": ");
	body = body ? body + 2 : reply;
	if (!strcmp(body, "OK")) {
		v->allow = 1;
		v->verdict = "clean";
	} else if ((end = strstr(body, " FOUND")) && !end[6]) {
		*end = '\0';
		if ((end = strstr(body, ".UNOFFICIAL")) && !end[11])
			*end = '\0';
		v->allow = 0;
		v->verdict = "found";
		snprintf(v->detail, sizeof(v->detail), "%s", body);
	} else {
		fail(v, o, "%s", body);
	}
out:
	close(sock);
}

static void decide(int fan, const struct fanotify_event_metadata *ev, const struct options *o,
		   unsigned long serial)
{
	struct fanotify_response response = { .fd = ev->fd, .response = FAN_ALLOW };
	struct verdict v;
	char link[64], path[PATH_MAX];
	double started = now_ms();
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", ev->fd);
	n = readlink(link, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	/* until a scan says otherwise, the file is unscanned: the on-error policy decides */
	fail(&v, o, "%s", "not scanned");
	/* TODO(4.7) BEGIN: allow our own events (ev->pid) unscanned, scan_fd() every other event's fd into v, and set response.response to FAN_DENY when v says so */
	if (ev->pid == getpid()) {
		v.allow = 1;
		v.verdict = "clean";
	} else {
		scan_fd(ev->fd, o, &v);
	}
	response.response = v.allow ? FAN_ALLOW : FAN_DENY;
	/* TODO(4.7) END */
	/* the exec waits until it gets an answer, whatever went wrong above */
	if (write(fan, &response, sizeof(response)) != (ssize_t)sizeof(response))
		fprintf(stderr, "exec-fanotify: answering for %s: %s\n", path, strerror(errno));
	printf("decision serial=%lu pid=%d fd=%d answer=%s verdict=%s", serial, ev->pid, ev->fd,
	       response.response == FAN_ALLOW ? "allow" : "deny", v.verdict);
	if (!strcmp(v.verdict, "found"))
		printf(" signature=%s", v.detail);
	if (!strcmp(v.verdict, "error")) {
		printf(" reason=");
		print_quoted(v.detail);
	}
	printf(" cached=no ms=%.1f path=", now_ms() - started);
	print_quoted(path);
	putchar('\n');
}

static int usage(void)
{
	fprintf(stderr, "usage: exec-fanotify --clamd SOCKET [--on-error deny|allow] [--timeout-ms N] MOUNT...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct options o = { .deny_on_error = 1, .timeout_ms = 3000 };
	struct sigaction sa = { .sa_handler = on_signal };
	static char buf[64 * 1024] __attribute__((aligned(8)));
	sigset_t stop_signals, while_waiting;
	unsigned long serial = 0;
	int fan = -1, i, marks = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--clamd") && i + 1 < argc)
			o.clamd = argv[++i];
		else if (!strcmp(argv[i], "--on-error") && i + 1 < argc &&
			 (!strcmp(argv[i + 1], "deny") || !strcmp(argv[i + 1], "allow")))
			o.deny_on_error = !strcmp(argv[++i], "deny");
		else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc && atoi(argv[i + 1]) > 0)
			o.timeout_ms = atoi(argv[++i]);
		else if (argv[i][0] == '-')
			return usage();
		else
			break;
	}
	if (!o.clamd || i == argc)
		return usage();
	/* the stop signals arrive only while ppoll() waits, so none is missed between events */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_signals, &while_waiting);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* TODO(4.7) BEGIN: fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE | O_CLOEXEC) and mark each MOUNT with FAN_MARK_ADD | FAN_MARK_MOUNT for FAN_OPEN_EXEC_PERM */
	fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (fan < 0) {
		perror("exec-fanotify: fanotify_init");
		return 1;
	}
	for (; i < argc; i++, marks++) {
		if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_EXEC_PERM, AT_FDCWD, argv[i])) {
			fprintf(stderr, "exec-fanotify: fanotify_mark %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
	}
	/* TODO(4.7) END */
	if (fan < 0 || !marks) {
		fprintf(stderr, "exec-fanotify: nothing is watched\n");
		return 1;
	}
	printf("exec-fanotify: ready clamd=%s mounts=%d on-error=%s timeout-ms=%d\n", o.clamd, marks,
	       o.deny_on_error ? "deny" : "allow", o.timeout_ms);

	while (!stopping) {
		struct pollfd pfd = { .fd = fan, .events = POLLIN };
		struct fanotify_event_metadata *ev = (struct fanotify_event_metadata *)buf;
		ssize_t len;

		if (ppoll(&pfd, 1, NULL, &while_waiting) < 0) {
			if (errno == EINTR)
				continue;
			perror("exec-fanotify: ppoll");
			return 1;
		}
		len = read(fan, buf, sizeof(buf));
		if (len < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			perror("exec-fanotify: read");
			return 1;
		}
		for (; FAN_EVENT_OK(ev, len); ev = FAN_EVENT_NEXT(ev, len)) {
			if (ev->vers != FANOTIFY_METADATA_VERSION) {
				fprintf(stderr, "exec-fanotify: fanotify metadata version %d, expected %d\n",
					ev->vers, FANOTIFY_METADATA_VERSION);
				return 1;
			}
			if (ev->fd < 0)
				continue;	/* the queue overflowed: nothing to answer */
			if (ev->mask & FAN_OPEN_EXEC_PERM)
				decide(fan, ev, &o, ++serial);
			close(ev->fd);
		}
	}
	printf("exec-fanotify: stopped after %lu decisions\n", serial);
	close(fan);
	return 0;
}
