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

/* The signatures, loaded and compiled once, shared by every scan. */
static struct cl_engine *engine;

/* Make `engine` from the signatures in `database`; CL_SUCCESS, or the first call's error. */
static cl_error_t load_engine(const char *database)
{
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

	if (ret == CL_SUCCESS && !engine)
		ret = CL_ENULLARG; /* nothing was loaded */
	if (ret != CL_SUCCESS)
		fprintf(stderr, "scanner: cannot load the database %s: %s\n", database, cl_strerror(ret));
	return ret;
}

/* Scan one file, print its verdict, and return its status. */
static int scan_one(const char *path)
{
	const char *virname = NULL;
	cl_error_t ret = CL_EARG; /* not scanned, until cl_scanfile() says otherwise */

	/* TODO(3.2) BEGIN: zero a struct cl_scan_options, set parse = ~0 (every file format) and general = CL_SCAN_GENERAL_HEURISTICS, then ret = cl_scanfile(path, &virname, &scanned, engine, &options) */
	struct cl_scan_options options;
	unsigned long scanned = 0;

	memset(&options, 0, sizeof options);
	options.parse = ~0u;	/* archives, documents, executables: look inside everything */
	options.general = CL_SCAN_GENERAL_HEURISTICS;
	ret = cl_scanfile(path, &virname, &scanned, engine, &options);
	/* TODO(3.2) END */

	switch (ret) {
	case CL_CLEAN:
		printf("%s: OK\n", path);
		return STATUS_CLEAN;
	case CL_VIRUS:
		printf("%s: %s FOUND\n", path, virname);
		return STATUS_FOUND;
	default:
		fprintf(stderr, "%s: %s ERROR\n", path, cl_strerror(ret));
		return STATUS_ERROR;
	}
}

int main(int argc, char **argv)
{
	int status = STATUS_CLEAN;

	if (argc < 3) {
		fprintf(stderr, "usage: %s DATABASE FILE...\n", argv[0]);
		return STATUS_ERROR;
	}
	if (load_engine(argv[1]) != CL_SUCCESS) {
		if (engine)
			cl_engine_free(engine);
		return STATUS_ERROR;
	}
	for (int i = 2; i < argc; i++) {
		int one = scan_one(argv[i]);
		/* an error outranks a finding, which outranks clean */
		if (one > status)
			status = one;
	}
	cl_engine_free(engine);
	return status;
}
