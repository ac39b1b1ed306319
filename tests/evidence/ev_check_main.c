/*
 * ev_check DATADIR [OWN_PK_HEX]: the read-only store checker (ev_check.h) as
 * a command, for scripts and by hand on a stopped node. Exit 0 when whole.
 */
#include <stdio.h>

#include "ev_check.h"
#include "tj_keys.h"

int main(int argc, char **argv)
{
	struct ev_check_report rep;
	uint8_t pk[32];
	bool has_pk = argc > 2 && tj_unhex(argv[2], pk, 32) == 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DATADIR [OWN_PK_HEX]\n", argv[0]);
		return 2;
	}
	ev_check_store(argv[1], has_pk ? pk : NULL, NULL, 0, &rep);
	ev_check_print(&rep, argv[1], stdout);
	return ev_check_ok(&rep) ? 0 : 1;
}
