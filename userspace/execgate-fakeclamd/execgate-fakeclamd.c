// SPDX-License-Identifier: GPL-2.0
/*
 * execgate-fakeclamd: a clamd that speaks the z-protocol badly, to inject faults into the relay
 * (specs/09-reliability). It reads commands as clamd does ("zCOMMAND\0", IDSESSION numbering
 * the commands of a session 1, 2, ..., INSTREAM chunks with 4-byte big-endian lengths ending in
 * a zero-length one), then misbehaves in one way:
 *
 *   execgate-fakeclamd SOCKET MODE [MS]
 *     hang       never reply (a clamd stuck mid-scan; kill it to make it die mid-scan)
 *     late MS    reply "<id>: <name>: OK" MS ms after each command: a clean verdict that
 *                comes after the relay's scan timeout must never count
 *     garbage    reply to each command with random bytes, NULs among them, no valid session id
 *     wrong-id   reply "<id + 1000>: <name>: OK": a verdict for a command never sent
 *     no-id      reply "<name>: OK" without the session id
 *     empty      reply "<id>: " (no verdict at all)
 *     no-nul     reply "<id>: <name>: OK" without the terminating NUL, then close
 *     close      close the connection as soon as a command has arrived
 *     flood      answer the first command with bytes and no NUL, as fast as the socket takes them
 *
 * Output, one line each, unbuffered: "ready" once listening, "command <id> <text>" for each
 * command read (the text up to 80 bytes), "flooded <bytes>" when a flood ends. Each connection is
 * served by a child that dies with the listener (PR_SET_PDEATHSIG), so killing the listener drops
 * every connection at once, the way a killed clamd does.
 *
 * Build: gcc -O2 -static -Wall -Wextra -o execgate-fakeclamd execgate-fakeclamd.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum mode { HANG, LATE, GARBAGE, WRONG_ID, NO_ID, EMPTY, NO_NUL, CLOSE, FLOOD };

static enum mode mode;
static int late_ms;

/* Read exactly n bytes; 0 on success, -1 at the end of the connection. */
static int read_full(int c, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = read(c, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int c, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t r = write(c, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One command up to its NUL (a leading 'z' dropped); -1 at the end of the connection. */
static int read_command(int c, char *cmd, size_t size)
{
	size_t n = 0;
	char ch;

	for (;;) {
		if (read_full(c, &ch, 1))
			return -1;
		if (ch == '\0')
			break;
		if (n + 1 < size)
			cmd[n++] = ch;
	}
	cmd[n] = '\0';
	if (cmd[0] == 'z')
		memmove(cmd, cmd + 1, n);
	return 0;
}

/* Skip an INSTREAM body: chunks with a 4-byte big-endian length, ending with a zero length. */
static int skip_stream(int c)
{
	char buf[65536];

	for (;;) {
		unsigned char h[4];
		uint32_t len;

		if (read_full(c, h, 4))
			return -1;
		len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		if (!len)
			return 0;
		while (len) {
			size_t part = len < sizeof(buf) ? len : sizeof(buf);

			if (read_full(c, buf, part))
				return -1;
			len -= (uint32_t)part;
		}
	}
}

static void sleep_ms(int ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

static void flood(int c)
{
	static char buf[65536];
	unsigned long long sent = 0;

	memset(buf, 'x', sizeof(buf));
	while (write_full(c, buf, sizeof(buf)) == 0)
		sent += sizeof(buf);
	printf("flooded %llu\n", sent);
}

static void serve(int c)
{
	char cmd[8192], reply[8400];
	int session = 0, id = 0;
	uint64_t rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;

	for (;;) {
		const char *name;
		int n;

		if (read_command(c, cmd, sizeof(cmd)))
			return;
		if (!strcmp(cmd, "IDSESSION")) {
			session = 1;
			continue;
		}
		if (!strcmp(cmd, "END"))
			return;
		if (session)
			id++;
		printf("command %d %.80s\n", id, cmd);
		if (!strcmp(cmd, "INSTREAM") && skip_stream(c))
			return;
		name = !strncmp(cmd, "SCAN ", 5) ? cmd + 5 : "stream";
		if (!strcmp(cmd, "PING")) {
			write_full(c, "PONG\0", 5);
			continue;
		}
		switch (mode) {
		case HANG:
			continue;
		case LATE:
			sleep_ms(late_ms);
			n = snprintf(reply, sizeof(reply), "%d: %s: OK", id, name);
			if (write_full(c, reply, (size_t)n + 1))
				return;
			continue;
		case GARBAGE:
			n = 1 + (int)(rng % 200);
			for (int i = 0; i < n; i++) {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				reply[i] = (char)rng;
				/* never a valid "<digits>: " start: the reply carries no usable session id */
				if (i == 0 && reply[i] >= '0' && reply[i] <= '9')
					reply[i] = '#';
			}
			if (write_full(c, reply, (size_t)n))
				return;
			continue;
		case WRONG_ID:
			n = snprintf(reply, sizeof(reply), "%d: %s: OK", id + 1000, name);
			if (write_full(c, reply, (size_t)n + 1))
				return;
			continue;
		case NO_ID:
			n = snprintf(reply, sizeof(reply), "%s: OK", name);
			if (write_full(c, reply, (size_t)n + 1))
				return;
			continue;
		case EMPTY:
			n = snprintf(reply, sizeof(reply), "%d: ", id);
			if (write_full(c, reply, (size_t)n + 1))
				return;
			continue;
		case NO_NUL:
			n = snprintf(reply, sizeof(reply), "%d: %s: OK", id, name);
			write_full(c, reply, (size_t)n);
			return;
		case CLOSE:
			return;
		case FLOOD:
			flood(c);
			return;
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int s;

	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* no zombies */
	if (argc < 3) {
		fprintf(stderr, "usage: execgate-fakeclamd SOCKET hang|late MS|garbage|wrong-id|no-id|empty|no-nul|close|flood\n");
		return 2;
	}
	const char *m = argv[2];

	if (!strcmp(m, "hang")) mode = HANG;
	else if (!strcmp(m, "late") && argc == 4) mode = LATE, late_ms = atoi(argv[3]);
	else if (!strcmp(m, "garbage")) mode = GARBAGE;
	else if (!strcmp(m, "wrong-id")) mode = WRONG_ID;
	else if (!strcmp(m, "no-id")) mode = NO_ID;
	else if (!strcmp(m, "empty")) mode = EMPTY;
	else if (!strcmp(m, "no-nul")) mode = NO_NUL;
	else if (!strcmp(m, "close")) mode = CLOSE;
	else if (!strcmp(m, "flood")) mode = FLOOD;
	else {
		fprintf(stderr, "execgate-fakeclamd: unknown mode %s\n", m);
		return 2;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
	unlink(addr.sun_path);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof(addr)) || listen(s, 64)) {
		perror("execgate-fakeclamd: listen");
		return 1;
	}
	printf("ready\n");
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			return 1;
		}
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			close(s);
			serve(c);
			_exit(0);
		}
		close(c);
	}
}
