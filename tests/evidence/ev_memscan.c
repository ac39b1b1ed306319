/* Scanning a process's memory for secrets: see ev_memscan.h. */
#include "ev_memscan.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EV__CHUNK (4u << 20)

/* Counts needles in one chunk; chunks overlap by the longest needle - 1, so hits are counted once. */
static void ev__scan_buf(const uint8_t *buf, size_t len, size_t fresh_from, struct ev_needle *nd, size_t n,
			 const char *where)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = buf, *end = buf + len;
		while (p < end) {
			const uint8_t *h = memmem(p, (size_t)(end - p), nd[i].bytes, nd[i].len);
			if (h == NULL)
				break;
			if ((size_t)(h - buf) + nd[i].len > fresh_from) {
				if (nd[i].hits++ == 0)
					snprintf(nd[i].where, sizeof(nd[i].where), "%s", where);
			}
			p = h + 1;
		}
	}
}

static void ev__scan_region(int mem, uint64_t lo, uint64_t hi, struct ev_needle *nd, size_t n, const char *where,
			    size_t overlap, uint8_t *buf, struct ev_memscan *out)
{
	size_t kept = 0;

	for (uint64_t a = lo; a < hi;) {
		size_t want = (size_t)(hi - a < EV__CHUNK ? hi - a : EV__CHUNK);
		ssize_t got = pread(mem, buf + kept, want, (off_t)a);
		if (got <= 0) {
			out->regions_skipped++;
			return;
		}
		out->bytes_read += (uint64_t)got;
		ev__scan_buf(buf, kept + (size_t)got, kept, nd, n, where);
		a += (uint64_t)got;
		/* Keep the tail so that a needle across the chunk boundary is found. */
		size_t total = kept + (size_t)got;
		kept = total < overlap ? total : overlap;
		memmove(buf, buf + total - kept, kept);
	}
}

int ev_memscan(pid_t pid, struct ev_needle *nd, size_t n, uint64_t region_cap, struct ev_memscan *out)
{
	char path[64], line[512], perms[8], name[256];
	unsigned long long lo, hi, off;
	size_t overlap = 1;
	uint8_t *buf = NULL;
	FILE *maps = NULL;
	int mem = -1, rc = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		nd[i].hits = 0;
		nd[i].where[0] = '\0';
		overlap = nd[i].len > overlap ? nd[i].len : overlap;
	}
	overlap--;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY);
	buf = malloc(EV__CHUNK + overlap + 1);
	if (maps == NULL || mem < 0 || buf == NULL) {
		rc = -errno;
		goto out;
	}
	kill(pid, SIGSTOP);
	while (fgets(line, sizeof(line), maps) != NULL) {
		name[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %255[^\n]", &lo, &hi, perms, &off, name) < 4)
			continue;
		if (perms[0] != 'r' || perms[1] != 'w')
			continue;
		out->regions++;
		if (hi - lo > region_cap) {
			out->regions_skipped++;
			continue;
		}
		ev__scan_region(mem, lo, hi, nd, n, name[0] ? name : "anon", overlap, buf, out);
	}
	kill(pid, SIGCONT);
out:
	free(buf);
	if (mem >= 0)
		close(mem);
	if (maps != NULL)
		fclose(maps);
	return rc;
}
