/* The blocking client side of the control socket, used by tools/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tj_control.h"

int tj_ctl_connect(const char *datadir, int *fd)
{
	struct sockaddr_un addr;
	int s;
	int n;

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", datadir, TJ_CTL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		int err = -errno;
		close(s);
		return err;
	}
	*fd = s;
	return 0;
}

static int tj__write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int tj__read_all(int fd, uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t r = recv(fd, p, len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return TJ_ETRUNC;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int tj_ctl_call(int fd, const uint8_t *req, size_t req_len, uint8_t **reply, size_t *reply_len)
{
	uint8_t hdr[4];
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (req_len > TJ_CTL_REQUEST_MAX_BYTES)
		return TJ_ELIMIT;
	hdr[0] = (uint8_t)(req_len >> 24);
	hdr[1] = (uint8_t)(req_len >> 16);
	hdr[2] = (uint8_t)(req_len >> 8);
	hdr[3] = (uint8_t)req_len;
	if ((rc = tj__write_all(fd, hdr, 4)) != 0 || (rc = tj__write_all(fd, req, req_len)) != 0)
		return rc;
	if ((rc = tj__read_all(fd, hdr, 4)) != 0)
		return rc;
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	/* The node is trusted less than fully: a reply is bounded too. */
	if (len == 0 || len > TJ_CTL_REPLY_MAX_BYTES)
		return TJ_ELIMIT;
	buf = malloc(len);
	if (buf == NULL)
		return -ENOMEM;
	if ((rc = tj__read_all(fd, buf, len)) != 0) {
		free(buf);
		return rc;
	}
	*reply = buf;
	*reply_len = len;
	return 0;
}
