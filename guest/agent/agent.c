// SPDX-License-Identifier: MIT
/*
 * lab-agent: the guest side of the harness. It runs as PID 1 of the test guest and serves
 * the host over one virtio-serial port, several commands at once, so that a command stuck
 * in the kernel (an insmod in D state) never blocks the next one.
 *
 * Protocol: one line per message, fields separated by single spaces, bytes in base64.
 *   host -> guest  RUN <id> <uid> <script>        run /bin/sh on the script
 *                  PUT <id> <mode> <path> <data>  write a file (parents created)
 *                  KILL <id> <signal>             signal a command's process group
 *   guest -> host  READY <uptime>
 *                  PID <id> <pid>                 the command started (its process group)
 *                  OUT <id> <1|2> <bytes>         stdout or stderr, as it arrives
 *                  EXIT <id> <status>             exit code, or 128 + signal number
 *                  ERR <id> <message>             the request could not be carried out
 * Commands run chrooted into the directory named in /run/lab-root when that file exists
 * (the host root shared over 9p), else in the initramfs.
 *
 * Build: gcc -O2 -static -Wall -Wextra -o lab-agent agent.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_CMDS 64
#define CHUNK 16384

struct cmd {
	char id[32];
	pid_t pid;	/* 0: slot free */
	int fd[2];	/* stdout, stderr pipes; -1 once closed */
	int exited;
	int status;
};

static struct cmd cmds[MAX_CMDS];
static int ctl = -1;
static int sigfd = -1;

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_decode(const char *in, unsigned char *out)
{
	size_t n = 0;
	unsigned int acc = 0;
	int bits = 0;

	for (; *in && *in != ' ' && *in != '\n'; in++) {
		const char *p = strchr(b64chars, *in);

		if (!p || *in == '\0')
			continue;	/* '=' padding and stray bytes */
		acc = (acc << 6) | (unsigned int)(p - b64chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (acc >> bits) & 0xff;
		}
	}
	return n;
}

static size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned int v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];

		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < n) {
		unsigned int v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0);

		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(ctl, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* host not connected (between save and restore): retry shortly */
			usleep(20000);
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		write_all(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void send_out(const char *id, int stream, const unsigned char *data, size_t n)
{
	static char line[CHUNK * 2 + 64];
	int h = snprintf(line, sizeof(line), "OUT %s %d ", id, stream);
	size_t e = b64_encode(data, n, line + h);

	line[h + e] = '\n';
	write_all(line, h + e + 1);
}

static void read_root(char *root, size_t size)
{
	int fd = open("/run/lab-root", O_RDONLY);
	ssize_t n;

	strcpy(root, "/");
	if (fd < 0)
		return;
	n = read(fd, root, size - 1);
	close(fd);
	if (n <= 0) {
		strcpy(root, "/");
		return;
	}
	root[n] = '\0';
	root[strcspn(root, "\n")] = '\0';
}

static struct cmd *free_slot(void)
{
	for (int i = 0; i < MAX_CMDS; i++)
		if (!cmds[i].pid)
			return &cmds[i];
	return NULL;
}

static void mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
}

/* PUT: the path is relative to the command root, so a file lands where commands see it. */
static void do_put(const char *id, char *args)
{
	char *mode_s = strtok(args, " "), *path_b = strtok(NULL, " "), *data_b = strtok(NULL, " \n");
	char root[256], rel[4096], path[4400];
	unsigned char *data;
	size_t n, len;
	int fd;

	if (!mode_s || !path_b) {
		say("ERR %s malformed-PUT\n", id);
		return;
	}
	len = b64_decode(path_b, (unsigned char *)rel);
	rel[len < sizeof(rel) ? len : sizeof(rel) - 1] = '\0';
	read_root(root, sizeof(root));
	snprintf(path, sizeof(path), "%s/%s", strcmp(root, "/") ? root : "", rel[0] == '/' ? rel + 1 : rel);
	data = malloc(data_b ? strlen(data_b) : 1);
	if (!data) {
		say("ERR %s out-of-memory\n", id);
		return;
	}
	n = data_b ? b64_decode(data_b, data) : 0;
	mkdirs(path);
	/*
	 * O_NONBLOCK: a FIFO without a reader fails with ENXIO instead of blocking the agent, and
	 * so every later command, for good. Writes block again once the file is open.
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK, (mode_t)strtol(mode_s, NULL, 8));
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (fd < 0) {
		say("ERR %s open-%s:%s\n", id, path, strerror(errno));
		goto out;
	}
	fchmod(fd, (mode_t)strtol(mode_s, NULL, 8));
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, data + off, n - off);

		if (w <= 0) {
			say("ERR %s write-%s:%s\n", id, path, strerror(errno));
			close(fd);
			goto out;
		}
		off += (size_t)w;
	}
	close(fd);
	say("EXIT %s 0\n", id);
out:
	free(data);
}

static void do_run(const char *id, char *args)
{
	char *uid_s = strtok(args, " "), *script_b = strtok(NULL, " \n");
	char root[256], script_path[300];
	struct cmd *c = free_slot();
	int out[2], err[2], fd;
	unsigned char *script;
	size_t n;
	pid_t pid;

	if (!uid_s || !script_b || !c) {
		say("ERR %s %s\n", id, c ? "malformed-RUN" : "too-many-commands");
		return;
	}
	script = malloc(strlen(script_b) + 1);
	if (!script) {
		say("ERR %s out-of-memory\n", id);
		return;
	}
	n = b64_decode(script_b, script);
	read_root(root, sizeof(root));
	/* the script goes to a file: one argv string is capped at 128 KiB (MAX_ARG_STRLEN) */
	snprintf(script_path, sizeof(script_path), "%s/tmp/.lab-cmd-%s", strcmp(root, "/") ? root : "", id);
	fd = open(script_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, script, n) != (ssize_t)n) {
		say("ERR %s script-%s:%s\n", id, script_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(script);
		return;
	}
	close(fd);
	free(script);
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		say("ERR %s pipe:%s\n", id, strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		uid_t uid = (uid_t)atoi(uid_s);
		int null = open("/dev/null", O_RDONLY);
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		dup2(null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (strcmp(root, "/") && (chroot(root) || chdir("/")))
			_exit(125);
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(125);
		snprintf(script_path, sizeof(script_path), "/tmp/.lab-cmd-%s", id);
		execl("/bin/sh", "sh", script_path, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	if (pid < 0) {
		close(out[0]);
		close(err[0]);
		say("ERR %s fork:%s\n", id, strerror(errno));
		return;
	}
	snprintf(c->id, sizeof(c->id), "%s", id);
	say("PID %s %d\n", id, pid);
	c->pid = pid;
	c->fd[0] = out[0];
	c->fd[1] = err[0];
	c->exited = 0;
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
}

static void do_kill(const char *id, char *args)
{
	int sig = args ? atoi(args) : SIGKILL;

	for (int i = 0; i < MAX_CMDS; i++)
		if (cmds[i].pid && !strcmp(cmds[i].id, id))
			kill(-cmds[i].pid, sig);
}

static void handle_line(char *line)
{
	char *verb = strtok(line, " \n"), *id = strtok(NULL, " \n"), *rest = strtok(NULL, "\n");

	if (!verb || !id)
		return;
	if (strlen(id) >= sizeof(cmds[0].id) || strspn(id, "0123456789") != strlen(id)) {
		say("ERR 0 bad-id\n");
		return;
	}
	if (!strcmp(verb, "RUN"))
		do_run(id, rest ? rest : "");
	else if (!strcmp(verb, "PUT"))
		do_put(id, rest ? rest : "");
	else if (!strcmp(verb, "KILL"))
		do_kill(id, rest);
	else
		say("ERR %s unknown-verb\n", id);
}

/* Drain a pipe; returns 0 once it is closed. */
static int pump(struct cmd *c, int stream)
{
	static unsigned char buf[CHUNK];
	int fd = c->fd[stream - 1];
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		send_out(c->id, stream, buf, (size_t)n);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(fd);
		c->fd[stream - 1] = -1;
		return 0;
	}
	return 1;
}

static void reap(void)
{
	int status;
	pid_t pid;

	/* PID 1 inherits every orphan: reap them all, report the ones we started */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_CMDS; i++) {
			if (cmds[i].pid != pid)
				continue;
			cmds[i].exited = 1;
			cmds[i].status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
	}
}

static void finish_exited(void)
{
	int any = 0;

	for (int i = 0; i < MAX_CMDS; i++)
		any |= cmds[i].pid && cmds[i].exited;
	if (!any)
		return;
	/*
	 * Output any command wrote before this exit goes out before its EXIT: a daemon's log line
	 * about an exec it allowed must not arrive after that exec's result.
	 */
	for (int i = 0; i < MAX_CMDS; i++) {
		if (!cmds[i].pid || cmds[i].exited)
			continue;
		pump(&cmds[i], 1);
		pump(&cmds[i], 2);
	}
	for (int i = 0; i < MAX_CMDS; i++) {
		struct cmd *c = &cmds[i];

		if (!c->pid || !c->exited)
			continue;
		/*
		 * The command's shell is gone. Send what its pipes hold now and stop: a background
		 * job that keeps the pipes open must not keep the command alive.
		 */
		pump(c, 1);
		pump(c, 2);
		for (int s = 0; s < 2; s++)
			if (c->fd[s] >= 0)
				close(c->fd[s]);
		say("EXIT %s %d\n", c->id, c->status);
		c->pid = 0;
	}
}

int main(int argc, char **argv)
{
	static char line[16 << 20];	/* a PUT of a large module arrives as one line */
	size_t used = 0;
	int ctl_ok = 1;
	struct termios t;
	char up[64] = "0";
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: lab-agent PORT\n");
		return 2;
	}
	ctl = open(argv[1], O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (ctl < 0) {
		perror("lab-agent: open control port");
		for (;;)
			pause();	/* PID 1 must not exit */
	}
	if (tcgetattr(ctl, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(ctl, TCSANOW, &t);
	}
	signal(SIGPIPE, SIG_IGN);
	/* child exits arrive on a signalfd, so EXIT goes out the moment a command ends */
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	fd = open("/proc/uptime", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, up, sizeof(up) - 1);

		up[n > 0 ? n : 0] = '\0';
		up[strcspn(up, " ")] = '\0';
		close(fd);
	}
	say("READY %s\n", up);

	for (;;) {
		struct pollfd pfd[2 + 2 * MAX_CMDS];
		struct cmd *owner[2 + 2 * MAX_CMDS];
		int streams[2 + 2 * MAX_CMDS];
		struct signalfd_siginfo si;
		int np = 0;

		pfd[np].fd = sigfd;
		pfd[np].events = POLLIN;
		owner[np++] = NULL;

		if (ctl_ok) {
			pfd[np].fd = ctl;
			pfd[np].events = POLLIN;
			owner[np++] = NULL;
		}
		for (int i = 0; i < MAX_CMDS; i++) {
			for (int s = 0; s < 2; s++) {
				if (!cmds[i].pid || cmds[i].fd[s] < 0)
					continue;
				pfd[np].fd = cmds[i].fd[s];
				pfd[np].events = POLLIN;
				streams[np] = s + 1;
				owner[np++] = &cmds[i];
			}
		}
		/* without a host on the port, look again shortly */
		poll(pfd, (nfds_t)np, ctl_ok ? 1000 : 20);
		ctl_ok = 1;
		while (read(sigfd, &si, sizeof(si)) > 0)
			;
		for (int i = 1; i < np; i++) {
			if (!pfd[i].revents)
				continue;
			if (owner[i]) {
				pump(owner[i], streams[i]);
				continue;
			}
			if (!(pfd[i].revents & POLLIN)) {
				ctl_ok = 0;	/* host gone (POLLHUP): don't spin on it */
				continue;
			}
			ssize_t n = read(ctl, line + used, sizeof(line) - 1 - used);

			if (n <= 0) {
				ctl_ok = 0;	/* EOF while no host is connected */
				continue;
			}
			used += (size_t)n;
			line[used] = '\0';
			char *start = line, *nl;

			while ((nl = memchr(start, '\n', used - (size_t)(start - line)))) {
				*nl = '\0';
				handle_line(start);
				start = nl + 1;
			}
			used -= (size_t)(start - line);
			memmove(line, start, used);
			if (used == sizeof(line) - 1)
				used = 0;	/* an over-long line: drop it rather than wedge */
		}
		reap();
		finish_exited();
	}
}
