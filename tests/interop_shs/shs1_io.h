/*
 * Blocking stdin/stdout helpers shared by the shs1-test executables
 * (shs1_client.c, shs1_server.c). Test code only.
 */
#ifndef TJ_SHS1_IO_H
#define TJ_SHS1_IO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

/* Reads exactly n bytes; -1 on EOF or error. */
static int shs1_read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Writes exactly n bytes; -1 on error. */
static int shs1_write_full(int fd, const uint8_t *buf, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t w = write(fd, buf + put, n - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		put += (size_t)w;
	}
	return 0;
}

#endif
