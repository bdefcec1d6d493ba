/*
 * Lesson 3.2: a virus scanner on libclamav, the library inside clamd and clamscan.
 *
 *   scanner DATABASE FILE...
 *
 * DATABASE is a signature file or a folder of them. For each FILE it prints, like clamd:
 *   FILE: OK                    (clean)
 *   FILE: SIGNATURE FOUND       (infected)
 * and on standard error, when FILE cannot be scanned:
 *   FILE: REASON ERROR
 * Exit status, like clamscan's: 0 all clean, 1 something found, 2 an error (it wins over 1).
 */
#include <clamav.h>
#include <stdio.h>
#include <string.h>

enum { STATUS_CLEAN = 0, STATUS_FOUND = 1, STATUS_ERROR = 2 };

/* Ready an engine with the signatures in `database`; NULL (after saying why) if it cannot. */
static struct cl_engine *load_engine(const char *database)
{
	struct cl_engine *engine = NULL;
	cl_error_t ret = CL_SUCCESS;

	/* TODO(3.2) BEGIN: cl_init(CL_INIT_DEFAULT), engine = cl_engine_new(), cl_load(database, engine, &signatures, CL_DB_STDOPT), cl_engine_compile(engine); stop at the first call that fails, leaving its cl_error_t in ret */
	unsigned int signatures = 0;

	ret = cl_init(CL_INIT_DEFAULT);
	if (ret == CL_SUCCESS) {
		engine = cl_engine_new();
		if (!engine)
			ret = CL_EMEM;
	}
	if (ret == CL_SUCCESS)
		ret = cl_load(database, engine, &signatures, CL_DB_STDOPT);
	if (ret == CL_SUCCESS)
		ret = cl_engine_compile(engine);
	/* TODO(3.2) END */

	if (ret != CL_SUCCESS || !engine) {
		fprintf(stderr, "scanner: cannot load the database %s: %s\n", database,
			ret != CL_SUCCESS ? cl_strerror(ret) : "no engine");
		if (engine)
			cl_engine_free(engine);
		return NULL;
	}
	return engine;
}

/* Scan one file, print its verdict, and return its status. */
static int scan_one(struct cl_engine *engine, const char *path)
{
	int status = STATUS_ERROR;

	/* TODO(3.2) BEGIN: zero a struct cl_scan_options, set parse = ~0 and general = CL_SCAN_GENERAL_HEURISTICS, call cl_scanfile(); print "PATH: OK" or "PATH: NAME FOUND" to stdout, or "PATH: cl_strerror() ERROR" to stderr */
	struct cl_scan_options options;
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_error_t ret;

	memset(&options, 0, sizeof options);
	options.parse = ~0u;	/* every file format parser: archives, documents, executables */
	options.general = CL_SCAN_GENERAL_HEURISTICS;
	ret = cl_scanfile(path, &virname, &scanned, engine, &options);
	if (ret == CL_CLEAN) {
		printf("%s: OK\n", path);
		status = STATUS_CLEAN;
	} else if (ret == CL_VIRUS) {
		printf("%s: %s FOUND\n", path, virname);
		status = STATUS_FOUND;
	} else {
		fprintf(stderr, "%s: %s ERROR\n", path, cl_strerror(ret));
	}
	/* TODO(3.2) END */

	return status;
}

int main(int argc, char **argv)
{
	struct cl_engine *engine;
	int status = STATUS_CLEAN;

	if (argc < 3) {
		fprintf(stderr, "usage: %s DATABASE FILE...\n", argv[0]);
		return STATUS_ERROR;
	}
	engine = load_engine(argv[1]);
	if (!engine)
		return STATUS_ERROR;
	for (int i = 2; i < argc; i++) {
		int one = scan_one(engine, argv[i]);
		/* an error outranks a finding, which outranks clean */
		if (one > status)
			status = one;
	}
	/* verdicts come before the exit: flush them while the pipe is still read */
	fflush(stdout);
	cl_engine_free(engine);
	return status;
}
