#include "tj_error.h"

#include <string.h>

struct tj__errdesc {
	const char *name;
	const char *text;
};

static const struct tj__errdesc tj__errors[TJ_E_LAST - TJ_E_FIRST] = {
	[TJ_EMALFORMED - TJ_E_FIRST] = {"TJ_EMALFORMED", "malformed message"},
	[TJ_ENONCANON - TJ_E_FIRST] = {"TJ_ENONCANON", "non-canonical encoding"},
	[TJ_ELIMIT - TJ_E_FIRST] = {"TJ_ELIMIT", "a size, depth or count limit was exceeded"},
	[TJ_ETRUNC - TJ_E_FIRST] = {"TJ_ETRUNC", "truncated input"},
	[TJ_ENOSPC - TJ_E_FIRST] = {"TJ_ENOSPC", "output buffer too small"},
	[TJ_EBADSIG - TJ_E_FIRST] = {"TJ_EBADSIG", "signature does not verify"},
	[TJ_EDECRYPT - TJ_E_FIRST] = {"TJ_EDECRYPT", "ciphertext failed authentication"},
	[TJ_ENOKEY - TJ_E_FIRST] = {"TJ_ENOKEY", "no key on this node can open this record"},
	[TJ_EPASSPHRASE - TJ_E_FIRST] = {"TJ_EPASSPHRASE", "wrong passphrase"},
	[TJ_ESCHEMA - TJ_E_FIRST] = {"TJ_ESCHEMA", "the incident does not follow the schema"},
	[TJ_EFUTURE - TJ_E_FIRST] = {"TJ_EFUTURE", "timestamp is too far in the future"},
	[TJ_EEXIST - TJ_E_FIRST] = {"TJ_EEXIST", "already exists"},
	[TJ_ENOTFOUND - TJ_E_FIRST] = {"TJ_ENOTFOUND", "not found"},
	[TJ_EEQUIVOCATION - TJ_E_FIRST] = {"TJ_EEQUIVOCATION", "author equivocated (two records with one sequence number)"},
	[TJ_EFROZEN - TJ_E_FIRST] = {"TJ_EFROZEN", "author is frozen after equivocation"},
	[TJ_ECHAIN - TJ_E_FIRST] = {"TJ_ECHAIN", "record does not follow its author's chain"},
	[TJ_ENETWORK - TJ_E_FIRST] = {"TJ_ENETWORK", "record belongs to another network"},
	[TJ_ENOTMEMBER - TJ_E_FIRST] = {"TJ_ENOTMEMBER", "not a member of this network"},
	[TJ_ESTORE - TJ_E_FIRST] = {"TJ_ESTORE", "the record store failed"},
	[TJ_ESTOREFULL - TJ_E_FIRST] = {"TJ_ESTOREFULL", "the record store is full"},
	[TJ_ERETRACTED - TJ_E_FIRST] = {"TJ_ERETRACTED", "record was retracted"},
	[TJ_EPROTO - TJ_E_FIRST] = {"TJ_EPROTO", "protocol violation"},
	[TJ_ECRYPTO - TJ_E_FIRST] = {"TJ_ECRYPTO", "a cryptographic operation failed"},
	[TJ_EKEYFILE - TJ_E_FIRST] = {"TJ_EKEYFILE", "key file is malformed or of an unknown version"},
	[TJ_EWIPED - TJ_E_FIRST] = {"TJ_EWIPED", "keys were wiped on this node"},
	[TJ_ECONFIG - TJ_E_FIRST] = {"TJ_ECONFIG", "configuration error"},
	[TJ_EUNSUPPORTED - TJ_E_FIRST] = {"TJ_EUNSUPPORTED", "unsupported version or kind"},
	[TJ_EBUSY - TJ_E_FIRST] = {"TJ_EBUSY", "rate or queue limit reached"},
	[TJ_ESTATE - TJ_E_FIRST] = {"TJ_ESTATE", "operation not valid in the current state"},
};

static const struct tj__errdesc *tj__lookup(int err)
{
	if (err >= TJ_E_FIRST && err < TJ_E_LAST)
		return &tj__errors[err - TJ_E_FIRST];
	return NULL;
}

const char *tj_strerror(int err)
{
	const struct tj__errdesc *d = tj__lookup(err);

	if (err == 0)
		return "success";
	if (d != NULL && d->text != NULL)
		return d->text;
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

const char *tj_errname(int err)
{
	const struct tj__errdesc *d = tj__lookup(err);

	if (err == 0)
		return "OK";
	if (d != NULL && d->name != NULL)
		return d->name;
	if (err < 0 && err > -4096) {
		const char *n = strerrorname_np(-err);
		return n != NULL ? n : "E?";
	}
	return "E?";
}
