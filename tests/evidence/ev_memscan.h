/*
 * Reads a running process's writable memory (/proc/PID/maps and
 * /proc/PID/mem; the caller must be allowed to ptrace it, e.g. its parent)
 * and counts where each needle occurs: what a seized, still-running machine
 * (or a core dump of it) would show. The process is stopped (SIGSTOP) for the
 * snapshot and continued after.
 */
#ifndef TJ_EV_MEMSCAN_H
#define TJ_EV_MEMSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define EV_MEMSCAN_NEEDLES_MAX 16

struct ev_needle {
	const char *name;
	const uint8_t *bytes;
	size_t len;
	/* results */
	unsigned hits;
	char where[96]; /* the first hit's mapping ("[heap]", "anon", a path) */
};

struct ev_memscan {
	uint64_t bytes_read;
	uint64_t regions;
	uint64_t regions_skipped; /* unreadable, or larger than the cap (ASan shadow) */
};

/* Scans pid's writable private mappings of at most region_cap bytes each. 0 or -errno. */
int ev_memscan(pid_t pid, struct ev_needle *needles, size_t n, uint64_t region_cap, struct ev_memscan *out);

#endif
