/* Shared by tj_retract.c and tj_retract_ops.c only. */
#ifndef TJ_RETRACT_INT_H
#define TJ_RETRACT_INT_H

#include "tj_mp.h"
#include "tj_retract.h"

/* The "rt:" entry of target into info (confirms not included); TJ_ENOTFOUND if none. */
TJ_MUST_CHECK int tj__retract_entry_get(struct tj_txn *t, const uint8_t target[32],
                                        struct tj_retraction_info *info);
/* A pending retraction of target by retractor (its target never arrived); TJ_ENOTFOUND if none. */
TJ_MUST_CHECK int tj__retract_pending_get(struct tj_txn *t, const uint8_t target[32],
                                          const uint8_t retractor[32], struct tj_retraction_info *info);
/* The confirmers of a retraction into info->confirms / n_confirms. */
TJ_MUST_CHECK int tj__retract_confirms_get(struct tj_txn *t, const uint8_t retraction[32],
                                           struct tj_retraction_info *info);

/* Control ops' helpers: an id or hex prefix argument; finishing a reply frame (frees buf on error). */
TJ_MUST_CHECK int tj__trust_ctl_target(const uint8_t *req, size_t len, uint8_t id[32], size_t *nibbles);
TJ_MUST_CHECK int tj__trust_reply(struct tj_mp_writer *w, uint8_t *buf, struct tj_ctl_reply *out);

#endif
