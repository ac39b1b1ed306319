/*
 * Replays files through a libFuzzer target without libFuzzer, so that a gcc
 * build (with ASan/UBSan) runs every fuzz corpus under ctest.
 *
 * usage: fuzz_<name> PATH...   (a PATH is a file or a directory of files)
 *
 * Each input is copied into a malloc'd buffer of exactly its size, so that
 * ASan reports a read one byte past the end. Exits non-zero if an input
 * cannot be read, the target returns non-zero, or no input was found at all
 * (a missing corpus must not pass silently).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TJ_REPLAY_MAX_BYTES (4u * 1024u * 1024u)
#define TJ_REPLAY_PATH_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int tj__replay_file(const char *path, unsigned *count)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long size;
	int rc = -1;

	if (!f) {
		fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		goto out;
	}
	if ((unsigned long)size > TJ_REPLAY_MAX_BYTES) {
		fprintf(stderr, "replay: %s is larger than %u bytes\n", path, TJ_REPLAY_MAX_BYTES);
		goto out;
	}
	/* malloc(0) may return NULL: keep one byte but pass the true size */
	buf = malloc(size ? (size_t)size : 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		goto out;
	}
	if (LLVMFuzzerTestOneInput(buf, (size_t)size) != 0) {
		fprintf(stderr, "replay: target returned non-zero on %s\n", path);
		goto out;
	}
	(*count)++;
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

static int tj__replay_dir(const char *dir, unsigned *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char path[TJ_REPLAY_PATH_MAX];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (tj__replay_file(path, count) != 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int rc = 0;

	for (int k = 1; k < argc; k++) {
		struct stat st;
		if (stat(argv[k], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[k], strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			rc |= tj__replay_dir(argv[k], &count) != 0;
		} else {
			rc |= tj__replay_file(argv[k], &count) != 0;
		}
	}
	if (count == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	printf("replay: %u inputs, %s\n", count, rc ? "FAILED" : "ok");
	return rc;
}
