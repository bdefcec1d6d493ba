// SPDX-License-Identifier: GPL-2.0
/*
 * execgate-fuzz: hostile input for /dev/execgate (specs/09-reliability). It is the relay, and
 * while it answers the real queries right, it throws malformed answers and odd reads at the
 * device and checks that every one gets the error the protocol promises (kernel/execgate/main.c):
 *
 *   write  anything but "A <serial> allow|deny" (newline optional) or "BYE": EINVAL
 *          a well-formed answer for a serial that waits for nothing: ENOENT
 *          a buffer we cannot read: EFAULT
 *   read   a buffer too small for the line: EINVAL, and the query stays queued
 *          a buffer the kernel cannot write: EFAULT, and the query is offered again
 *
 * Commands (output one line each, unbuffered):
 *
 *   execgate-fuzz fuzz SECONDS SEED DENY-SUBSTRING
 *       be the relay until SIGTERM (or SECONDS at most): answer each query (deny when the path
 *       contains the substring, else allow), and around it send bad writes and reads. Prints
 *       "ready", then at the end "fuzz queries=<n> allowed=<n> denied=<n> bad_writes=<n>
 *       bad_reads=<n> boundary_checks=<n> efault_reoffered=<n> fds=<now>/<at start>
 *       mismatches=<n> seed=<n>", after one "mismatch ..." line per input that got another
 *       answer than the protocol's (none is the only good result). Serials must come one after
 *       another: a query skipped (lost) or offered twice is a mismatch too.
 *   execgate-fuzz steal PID FD
 *       take the relay's descriptor with pidfd_getfd() (root may) and try to read and answer
 *       with it: "steal read <ok|ERRNO>", "steal write <ok|ERRNO>".
 *   execgate-fuzz inherit
 *       open the device (become the relay), fork, and let the child, which is not the relay,
 *       read and answer with the inherited descriptor: "inherit read ...", "inherit write ...".
 *   execgate-fuzz nocap
 *       drop CAP_SYS_ADMIN (effective, permitted, bounding set) and open the device:
 *       "nocap open <ok|ERRNO>".
 *   execgate-fuzz reopen PID FD
 *       open /proc/PID/fd/FD, a second way to the same device: "reopen <ok|ERRNO>".
 *   execgate-fuzz impostor NAME PROGRAM
 *       call itself NAME (the relay's name), then run PROGRAM in a child: "impostor child <status>".
 *   execgate-fuzz memfd-exec FILE
 *       copy FILE into a memfd and execute that (fexecve): the kernel sees "/memfd:... (deleted)".
 *   execgate-fuzz deleted-exec FILE
 *       open FILE, unlink it, execute the open file (execveat AT_EMPTY_PATH): "FILE (deleted)".
 *
 * Build: gcc -O2 -static -Wall -Wextra -o execgate-fuzz execgate-fuzz.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEVICE "/dev/execgate"
#define QUERY_MAX (64 + 2 * 4096)
#define ANSWER_MAX 48 /* the module refuses writes of this many bytes or more */
#define HUGE_READ (1UL << 30)

static const char *errname(int err)
{
	if (err == 0)
		return "ok";
	return strerrorname_np(err) ? strerrorname_np(err) : "E?";
}

/* ---- a small PRNG, so a failing run can be repeated with its seed ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* ---- bookkeeping ---- */

static int dev = -1;
static unsigned long queries, allowed, denied, bad_writes, bad_reads, boundary_checks, reoffered;
static unsigned long mismatches;
/* the serials of queries we hold (read, not yet answered): the bad writes must never name them */
static unsigned long long held_serial;
static int holding;
static unsigned long long highest_serial;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void mismatch(const char *fmt, ...)
{
	va_list ap;

	if (++mismatches > 50)
		return; /* counted, not printed */
	fputs("mismatch ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Printable form of bytes, for mismatch lines. */
static const char *shown(const char *s, size_t n)
{
	static char out[4 * 96 + 16];
	size_t o = 0, i;

	for (i = 0; i < n && i < 96; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)sprintf(out + o, "\\x%02x", c);
	}
	if (i < n)
		o += (size_t)sprintf(out + o, "...(%zu bytes)", n);
	out[o] = '\0';
	return out;
}

/* write() and its errno (0 when the whole buffer was taken). */
static int try_write(const void *buf, size_t n)
{
	ssize_t r = write(dev, buf, n);

	if (r < 0)
		return errno;
	return (size_t)r == n ? 0 : EIO;
}

/* A bad write: it must fail with `want` (EINVAL, ENOENT or EFAULT). */
static void bad_write(const char *what, const void *buf, size_t n, int want)
{
	int got = try_write(buf, n);

	bad_writes++;
	if (got != want)
		mismatch("write %s \"%s\": %s, expected %s", what, buf ? shown(buf, n) : "(null)", errname(got), errname(want));
}

static void bad_writef(const char *what, int want, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	bad_write(what, text, (size_t)n, want);
}

/* A serial that is certainly not waiting for our answer: not the one we hold. */
static unsigned long long unknown_serial(void)
{
	unsigned long long s;

	switch (rnd_below(4)) {
	case 0: s = highest_serial + 1 + rnd_below(5); break; /* queued soon, not sent to us yet */
	case 1: s = rnd_below(highest_serial + 1); break;      /* answered, or never ours */
	case 2: s = rnd() | (1ULL << 63); break;               /* far away */
	default: s = 18446744073709551615ULL; break;           /* the largest u64 */
	}
	if (holding && s == held_serial)
		s = held_serial + 1000003;
	return s;
}

/* ---- the bad writes: each kind with the answer the protocol gives it ---- */

static void fuzz_write_once(void)
{
	static char buf[70000];
	unsigned long long s = unknown_serial();
	const char *verdict = rnd_below(2) ? "allow" : "deny";
	size_t n;

	switch (rnd_below(16)) {
	case 0: /* zero-length */
		bad_write("zero-length", "A 1 allow", 0, EINVAL);
		break;
	case 1: /* over-long: ANSWER_MAX or more, a valid answer padded out, or just bytes */
		n = ANSWER_MAX + rnd_below(rnd_below(2) ? 64 : sizeof(buf) - ANSWER_MAX);
		memset(buf, rnd_below(2) ? ' ' : 'A', n);
		memcpy(buf, "A 1 allow", 9);
		bad_write("over-long", buf, n, EINVAL);
		break;
	case 2: /* random bytes, 1..47 of them */
		n = 1 + rnd_below(ANSWER_MAX - 1);
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)rnd();
		if ((n == 3 || n == 4) && !memcmp(buf, "BYE", 3))
			buf[0] = 'X';
		bad_write("binary", buf, n, EINVAL);
		break;
	case 3: { /* a prefix of a valid answer: a partial line */
		char line[64];
		int len = snprintf(line, sizeof(line), "A %llu %s", s, verdict);

		n = rnd_below((size_t)len - 1) + 1; /* 1 .. len-1 bytes: never the whole answer */
		/* "A <s> allo" etc.; a prefix ending right after the serial is malformed too */
		bad_write("partial", line, n, EINVAL);
		break;
	}
	case 4: /* numbers that do not fit in 64 bits, and negative ones */
		switch (rnd_below(4)) {
		case 0: bad_writef("huge", EINVAL, "A 18446744073709551616 %s", verdict); break;
		case 1: bad_writef("huge", EINVAL, "A 99999999999999999999999999999 %s\n", verdict); break;
		case 2: bad_writef("negative", EINVAL, "A -%llu %s", s, verdict); break;
		default: bad_writef("hex", EINVAL, "A 0x%llx %s", s, verdict); break;
		}
		break;
	case 5: /* well-formed, but nothing waits for that serial */
		bad_writef("unknown serial", ENOENT, rnd_below(2) ? "A %llu %s\n" : "A %llu %s", s, verdict);
		break;
	case 6: /* wrong case, spacing, separators */
		switch (rnd_below(10)) {
		case 0: bad_writef("case", EINVAL, "a %llu %s", s, verdict); break;
		case 1: bad_writef("case", EINVAL, "A %llu %s", s, rnd_below(2) ? "Allow" : "DENY"); break;
		case 2: bad_writef("spacing", EINVAL, "A  %llu %s", s, verdict); break;
		case 3: bad_writef("spacing", EINVAL, " A %llu %s", s, verdict); break;
		case 4: bad_writef("spacing", EINVAL, "A %llu %s ", s, verdict); break;
		case 5: bad_writef("spacing", EINVAL, "A %llu  %s", s, verdict); break;
		case 6: bad_writef("tab", EINVAL, "A\t%llu %s", s, verdict); break;
		case 7: bad_writef("crlf", EINVAL, "A %llu %s\r\n", s, verdict); break;
		case 8: bad_writef("two newlines", EINVAL, "A %llu %s\n\n", s, verdict); break;
		default: bad_writef("glued", EINVAL, "A%llu %s", s, verdict); break;
		}
		break;
	case 7: /* two answers in one write */
		bad_writef("two answers", EINVAL, "A %llu %s\nA %llu %s\n", s, verdict, s, verdict);
		break;
	case 8: { /* NUL bytes: the C string the kernel parses must not hide the rest */
		char line[64];
		int len = snprintf(line, sizeof(line), "A %llu %s", s, verdict);

		switch (rnd_below(3)) {
		case 0: line[len++] = '\0'; break;                                    /* trailing NUL */
		case 1: line[len++] = '\0'; memcpy(line + len, "junk", 4); len += 4; break; /* NUL, then more */
		default: memmove(line + 1, line, (size_t)len++); line[0] = '\0'; break;      /* leading NUL */
		}
		bad_write("nul", line, (size_t)len, EINVAL);
		break;
	}
	case 9: /* BYE spelled wrong */
		switch (rnd_below(4)) {
		case 0: bad_write("bye", "bye", 3, EINVAL); break;
		case 1: bad_write("bye", "BYE ", 4, EINVAL); break;
		case 2: bad_write("bye", "BYE\n\n", 5, EINVAL); break;
		default: bad_write("bye", "BYEE", 4, EINVAL); break;
		}
		break;
	case 10: /* a buffer the kernel cannot read */
		switch (rnd_below(3)) {
		case 0: bad_write("null buffer", NULL, 1 + rnd_below(ANSWER_MAX - 1), EFAULT); break;
		case 1: bad_write("kernel address", (void *)0xffffffff81000000UL, 16, EFAULT); break;
		default: bad_write("wild pointer", (void *)0x10, 16, EFAULT); break;
		}
		break;
	case 11: { /* the answer straddles the end of a mapping: the kernel reads only part of it */
		static char *page;
		long pg = sysconf(_SC_PAGESIZE);
		char line[64];
		int len = snprintf(line, sizeof(line), "A %llu %s", s, verdict);

		if (!page) {
			/* PROT_NONE, not munmap(): a later mmap() must not fill the hole */
			page = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			mprotect(page + pg, (size_t)pg, PROT_NONE);
		}
		memcpy(page + pg - 4, line, 4);
		bad_write("straddling", page + pg - 4, (size_t)len, EFAULT);
		break;
	}
	case 12: /* the largest serial and its neighbours, well formed: ENOENT; past it: EINVAL */
		if (rnd_below(2))
			bad_writef("max serial", ENOENT, "A 18446744073709551615 %s", verdict);
		else
			bad_writef("max serial + 1", EINVAL, "A 18446744073709551616 %s", verdict);
		break;
	case 13: /* an empty serial, a missing verdict */
		switch (rnd_below(4)) {
		case 0: bad_writef("no serial", EINVAL, "A  %s", verdict); break;
		case 1: bad_writef("no verdict", EINVAL, "A %llu", s); break;
		case 2: bad_writef("no verdict", EINVAL, "A %llu ", s); break;
		default: bad_write("just A", "A", 1, EINVAL); break;
		}
		break;
	case 14: /* exactly ANSWER_MAX - 1 bytes: within the size limit, but not an answer */
		memset(buf, '7', ANSWER_MAX - 1);
		memcpy(buf, "A ", 2);
		memcpy(buf + ANSWER_MAX - 1 - 6, " allow", 6);
		bad_write("47-digit serial", buf, ANSWER_MAX - 1, EINVAL);
		break;
	default: /* a verdict word with something glued on */
		bad_writef("verdict suffix", EINVAL, "A %llu %s%c", s, verdict, "xX\t!-"[rnd_below(5)]);
		break;
	}
}

/* ---- reads ---- */

static char line[QUERY_MAX + 1];

static void set_nonblock(int on)
{
	int fl = fcntl(dev, F_GETFL);

	fcntl(dev, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* Parse "Q <serial> <pid> <fd> <hex|->\n"; returns 0 and fills in serial, fd and the path. */
static int parse_query(char *text, size_t n, unsigned long long *serial, int *fd, char *path)
{
	int pid, used = 0;
	char *hex;
	size_t len;

	if (n == 0 || text[n - 1] != '\n')
		return -1;
	text[n - 1] = '\0';
	if (sscanf(text, "Q %llu %d %d %n", serial, &pid, fd, &used) != 3 || !used)
		return -1;
	hex = text + used;
	if (!strcmp(hex, "-")) {
		path[0] = '\0';
		return 0;
	}
	len = strlen(hex);
	if (len == 0 || len % 2)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		unsigned int b;

		if (sscanf(hex + i, "%2x", &b) != 1)
			return -1;
		path[i / 2] = (char)b;
	}
	path[len / 2] = '\0';
	return 0;
}

/*
 * The next query's exact length, learnt the hard way: every size below it must fail with
 * EINVAL and leave the query queued; the first size that works is its length. Returns the
 * bytes read into `line`.
 */
static ssize_t read_by_boundary(void)
{
	for (size_t size = 0; size <= QUERY_MAX; size++) {
		ssize_t n = read(dev, line, size);

		if (n >= 0) {
			boundary_checks++;
			if ((size_t)n != size)
				mismatch("read of %zu bytes returned %zd: a line must fit exactly or fail", size, n);
			return n;
		}
		if (errno == EAGAIN)
			return -1; /* settled meanwhile (it timed out): nothing to read */
		bad_reads++;
		if (errno != EINVAL) {
			mismatch("read of %zu bytes (smaller than the line): %s, expected EINVAL", size, errname(errno));
			return -1;
		}
	}
	mismatch("no read size up to %d worked", QUERY_MAX);
	return -1;
}

/* A read the kernel cannot complete (bad buffer): EFAULT, and the query must come back. */
static void read_fault_once(void)
{
	static char *ro, *edge;
	long pg = sysconf(_SC_PAGESIZE);
	void *where;
	const char *what;

	if (!ro) {
		ro = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		edge = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mprotect(edge + pg, (size_t)pg, PROT_NONE);
	}
	switch (rnd_below(3)) {
	case 0: where = NULL; what = "null buffer"; break;
	case 1: where = ro; what = "read-only buffer"; break;
	default: where = edge + pg - 8; what = "buffer ending after 8 bytes"; break;
	}
	ssize_t n = read(dev, where, QUERY_MAX);

	bad_reads++;
	if (n >= 0)
		mismatch("read into a %s returned %zd, expected EFAULT", what, n);
	else if (errno != EFAULT && errno != EAGAIN)
		mismatch("read into a %s: %s, expected EFAULT", what, errname(errno));
}

/* A read with a huge buffer: only the line is written. */
static ssize_t read_huge(void)
{
	static char *huge;

	if (!huge)
		huge = mmap(NULL, HUGE_READ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ssize_t n = read(dev, huge, HUGE_READ);

	if (n > 0) {
		if (n > QUERY_MAX)
			mismatch("a read with a 1 GiB buffer returned %zd bytes", n);
		else
			memcpy(line, huge, (size_t)n);
	}
	return n;
}

/* Malformed answers to the query we hold, each with the opposite verdict: all must be refused. */
static void hostile_answers(unsigned long long s, int allow)
{
	const char *opp = allow ? "deny" : "allow";
	char text[64];
	int len;

	bad_writef("held: trailing space", EINVAL, "A %llu %s ", s, opp);
	bad_writef("held: double space", EINVAL, "A  %llu %s", s, opp);
	bad_writef("held: leading space", EINVAL, " A %llu %s", s, opp);
	bad_writef("held: suffix", EINVAL, "A %llu %sx", s, opp);
	bad_writef("held: upper case", EINVAL, "A %llu %s", s, allow ? "DENY" : "ALLOW");
	bad_writef("held: two newlines", EINVAL, "A %llu %s\n\n", s, opp);
	bad_writef("held: crlf", EINVAL, "A %llu %s\r\n", s, opp);
	bad_writef("held: tab", EINVAL, "A %llu\t%s", s, opp);
	bad_writef("held: glued", EINVAL, "A%llu %s", s, opp);
	bad_writef("held: no verdict", EINVAL, "A %llu", s);
	bad_writef("held: plus sign", EINVAL, "A +%llu %s", s, opp);
	bad_writef("held: leading zero", EINVAL, "A 0%llu %s", s, opp);
	bad_writef("held: newline in the line", EINVAL, "A %llu\n %s", s, opp);
	len = snprintf(text, sizeof(text), "A %llu %s", s, opp);
	text[len++] = '\0';
	bad_write("held: trailing NUL", text, (size_t)len, EINVAL);
	memcpy(text + len, "junk", 4);
	bad_write("held: NUL then junk", text, (size_t)len + 4, EINVAL);
}

static int answer(unsigned long long s, int allow)
{
	char text[64];
	int n = snprintf(text, sizeof(text), rnd_below(2) ? "A %llu %s\n" : "A %llu %s", s, allow ? "allow" : "deny");

	return try_write(text, (size_t)n);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fuzz(double seconds, uint64_t seed, const char *deny)
{
	static char path[QUERY_MAX / 2 + 1];
	unsigned long long expect_serial = 0;
	struct sigaction sa = { .sa_handler = on_term }; /* no SA_RESTART: poll() and read() return EINTR */
	double end;
	int fds_before;

	sigaction(SIGTERM, &sa, NULL);

	rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
	dev = open(DEVICE, O_RDWR);
	if (dev < 0) {
		printf("open failed: %s\n", errname(errno));
		return 1;
	}
	fds_before = count_fds();
	printf("ready\n");
	end = now() + seconds;
	while (!stop && now() < end) {
		struct pollfd p = { .fd = dev, .events = POLLIN };
		unsigned long long serial;
		int fd, allow;
		ssize_t n;

		for (int i = 0; i < 8; i++)
			fuzz_write_once();
		if (poll(&p, 1, 5) <= 0 || !(p.revents & POLLIN) || stop)
			continue;

		set_nonblock(1);
		/* sometimes a faulting read first: the same query must come back after it */
		int faulted = rnd_below(3) == 0;

		if (faulted)
			read_fault_once();
		switch (rnd_below(3)) {
		case 0: n = read_by_boundary(); break;
		case 1: n = read_huge(); break;
		default:
			for (int i = 0; i < 4; i++) { /* tiny reads: never enough for a line */
				ssize_t r = read(dev, line, rnd_below(12));

				bad_reads++;
				if (r >= 0 || (errno != EINVAL && errno != EAGAIN))
					mismatch("a read of under 12 bytes: %s", r >= 0 ? "returned data" : errname(errno));
			}
			n = read(dev, line, QUERY_MAX);
		}
		set_nonblock(0);
		if (n <= 0)
			continue; /* settled before we read it (EAGAIN): nothing to answer */
		if (parse_query(line, (size_t)n, &serial, &fd, path)) {
			mismatch("not a query line: \"%s\"", shown(line, (size_t)n));
			continue;
		}
		if (fd >= 0)
			close(fd);
		/*
		 * Nothing times out or dies here, so every query comes to us, in order: a serial that
		 * is not the next one means a query was lost (skipped) or offered twice. After a read
		 * that faulted, the next query must be the same one the faulting read tried to take.
		 */
		if (expect_serial && serial != expect_serial)
			mismatch("query %llu came when %llu was due%s", serial, expect_serial, faulted ? " (after a read that faulted)" : "");
		else if (faulted && expect_serial)
			reoffered++;
		expect_serial = serial + 1;
		if (serial > highest_serial)
			highest_serial = serial;
		queries++;
		allow = !(deny[0] && strstr(path, deny));
		held_serial = serial;
		holding = 1;
		hostile_answers(serial, allow);
		for (int i = 0; i < 4; i++)
			fuzz_write_once();
		int err = answer(serial, allow);

		holding = 0;
		if (err)
			mismatch("the right answer to query %llu: %s", serial, errname(err));
		else if (allow)
			allowed++;
		else
			denied++;
		err = answer(serial, allow);
		bad_writes++;
		if (err != ENOENT)
			mismatch("a second answer to query %llu: %s, expected ENOENT", serial, errname(err));
		err = answer(serial, !allow);
		bad_writes++;
		if (err != ENOENT)
			mismatch("the opposite answer after the right one, query %llu: %s, expected ENOENT", serial, errname(err));
	}
	printf("fuzz queries=%lu allowed=%lu denied=%lu bad_writes=%lu bad_reads=%lu boundary_checks=%lu efault_reoffered=%lu fds=%d/%d mismatches=%lu seed=%llu\n",
	       queries, allowed, denied, bad_writes, bad_reads, boundary_checks, reoffered, count_fds(), fds_before, mismatches,
	       (unsigned long long)seed);
	return 0;
}

/* ---- who may be the relay ---- */

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * Read and answer through a descriptor of the device we did not open ourselves. Not with
 * O_NONBLOCK: that flag belongs to the open file, which the relay shares, and would turn its
 * own blocking reads into EAGAIN. A read that is let through waits for a query: an alarm ends
 * it after a second (EINTR), which says as much as a query would.
 */
static void try_as_non_relay(const char *who, int fd)
{
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	char buf[QUERY_MAX];
	ssize_t r;

	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	r = read(fd, buf, sizeof(buf));
	alarm(0);
	printf("%s read %s\n", who, r >= 0 ? "ok" : errname(errno));
	r = write(fd, "A 18446744073709551615 allow", 28);
	printf("%s write %s\n", who, r >= 0 ? "ok" : errname(errno));
}

static int steal(int pid, int target)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), fd;

	if (pidfd < 0) {
		printf("steal pidfd_open %s\n", errname(errno));
		return 1;
	}
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
	if (fd < 0) {
		printf("steal getfd %s\n", errname(errno));
		return 1;
	}
	printf("steal getfd ok\n");
	try_as_non_relay("steal", fd);
	return 0;
}

static int inherit(void)
{
	int status;
	pid_t child;

	dev = open(DEVICE, O_RDWR);
	if (dev < 0) {
		printf("open failed: %s\n", errname(errno));
		return 1;
	}
	child = fork();
	if (child == 0) {
		try_as_non_relay("inherit", dev);
		_exit(0);
	}
	waitpid(child, &status, 0);
	return 0;
}

static int nocap(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	int fd;

	prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0);
	if (syscall(SYS_capget, &h, d)) {
		printf("nocap capget %s\n", errname(errno));
		return 1;
	}
	d[0].effective &= ~(1U << CAP_SYS_ADMIN);
	d[0].permitted &= ~(1U << CAP_SYS_ADMIN);
	d[0].inheritable &= ~(1U << CAP_SYS_ADMIN);
	if (syscall(SYS_capset, &h, d)) {
		printf("nocap capset %s\n", errname(errno));
		return 1;
	}
	fd = open(DEVICE, O_RDWR);
	printf("nocap uid=%d open %s\n", (int)getuid(), fd >= 0 ? "ok" : errname(errno));
	return 0;
}

static int reopen(const char *pid, const char *fd)
{
	char p[64];
	int r;

	snprintf(p, sizeof(p), "/proc/%s/fd/%s", pid, fd);
	r = open(p, O_RDWR);
	printf("reopen %s\n", r >= 0 ? "ok" : errname(errno));
	return 0;
}

static int impostor(const char *name, const char *program)
{
	int status;
	pid_t child;

	prctl(PR_SET_NAME, name, 0, 0, 0);
	child = fork();
	if (child == 0) {
		prctl(PR_SET_NAME, name, 0, 0, 0);
		execl(program, name, (char *)NULL);
		_exit(errno == EPERM || errno == EACCES ? 126 : 127);
	}
	waitpid(child, &status, 0);
	printf("impostor child %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}

static int copy_to(int out, const char *file)
{
	char buf[65536];
	int in = open(file, O_RDONLY);
	ssize_t n;

	if (in < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return -1;
	close(in);
	return n < 0 ? -1 : 0;
}

extern char **environ;

static int memfd_exec(const char *file)
{
	int fd = memfd_create("lab-memfd", 0);
	char *argv[] = { (char *)"memfd-exec", NULL };

	if (fd < 0 || copy_to(fd, file)) {
		perror("memfd");
		return 2;
	}
	fexecve(fd, argv, environ);
	int err = errno;

	perror("fexecve");
	return err == EPERM || err == EACCES ? 126 : 127;
}

static int deleted_exec(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	char *argv[] = { (char *)"deleted-exec", NULL };

	if (fd < 0 || unlink(file)) {
		perror(file);
		return 2;
	}
	syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
	int err = errno;

	perror("execveat");
	return err == EPERM || err == EACCES ? 126 : 127;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && !strcmp(argv[1], "fuzz"))
		return fuzz(atof(argv[2]), strtoull(argv[3], NULL, 10), argv[4]);
	if (argc == 4 && !strcmp(argv[1], "steal"))
		return steal(atoi(argv[2]), atoi(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "inherit"))
		return inherit();
	if (argc == 2 && !strcmp(argv[1], "nocap"))
		return nocap();
	if (argc == 4 && !strcmp(argv[1], "reopen"))
		return reopen(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "impostor"))
		return impostor(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "memfd-exec"))
		return memfd_exec(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "deleted-exec"))
		return deleted_exec(argv[2]);
	fprintf(stderr, "usage: execgate-fuzz fuzz SECONDS SEED DENY | steal PID FD | inherit | nocap | reopen PID FD | impostor NAME PROGRAM | memfd-exec FILE | deleted-exec FILE\n");
	return 2;
}
