/* Group commit over a kv backend.
 *
 * Writers build a batch under their subscriber's lock and submit it; the
 * batch is visible to db_get() at once (read-your-writes for the next
 * read-modify-write), and durable once db_wait() returns 0. Batches
 * submitted while a sync is in flight are written together by the next
 * leader, in submission order, so N concurrent deposits cost one WAL sync,
 * not N, even in the same mailbox.
 *
 * A failed write is fatal to the store: every later call returns -EIO, since
 * batches built on top of the lost one can no longer be trusted. */
#ifndef VVM_DB_H
#define VVM_DB_H

#include "kv.h"

struct db;

/* Returns 0 and *db_r, or -errno with *error_r (g_free). */
int db_open(const char *dir, enum kv_open_mode mode, struct db **db_r,
	    char **error_r)
	G_GNUC_WARN_UNUSED_RESULT;
void db_close(struct db **db);

/* Point read that sees submitted batches. 0, -ENOENT or -EIO. The value
 * may pin the engine's memory: release it before db_close(). */
int db_get(struct db *db, enum kv_table table, const void *key,
	   size_t key_len, GBytes **value_r) G_GNUC_WARN_UNUSED_RESULT;

/* db_get() for readers outside the store's locks: a value that is still
 * in flight is returned only once it is durable, so that nothing a reader
 * saw (a UID, UIDNEXT) can be lost to a crash. */
int db_get_durable(struct db *db, enum kv_table table, const void *key,
		   size_t key_len, GBytes **value_r) G_GNUC_WARN_UNUSED_RESULT;

/* Prefix scan of what is written; batches still in flight are not seen.
 * Contract as kv_backend.scan. */
int db_scan(struct db *db, enum kv_table table, const void *prefix,
	    size_t prefix_len, const void *start, size_t start_len,
	    int (*cb)(void *ctx, const void *key, size_t key_len,
		      const void *value, size_t value_len),
	    void *ctx) G_GNUC_WARN_UNUSED_RESULT;

/* Takes the batch (and NULLs *batch) and queues it. Returns a ticket for
 * db_wait(), or -EIO (as a negative value) if the store has failed.
 *
 * Sequenced puts (kv_batch_put_sequenced()) get their keys here: the next
 * number of their sequence, 8 bytes big-endian, and the batch also puts
 * the sequence's last number into KV_META under its name (as
 * rec_u64_encode() writes it). Numbers are taken and batches queued under
 * one lock and written in queue order, so the record on disk is never
 * behind a key it handed out, whatever order writers built batches in. A
 * sequence whose record is missing starts at 1. */
int64_t db_submit(struct db *db, struct kv_batch **batch)
	G_GNUC_WARN_UNUSED_RESULT;

/* Waits until the batch of ticket is durable. 0 or -EIO. */
int db_wait(struct db *db, int64_t ticket) G_GNUC_WARN_UNUSED_RESULT;

/* Waits until every batch submitted so far is durable, so that a scan
 * sees them. 0 or -EIO. */
int db_wait_all(struct db *db) G_GNUC_WARN_UNUSED_RESULT;

/* db_submit() then db_wait(). */
int db_commit(struct db *db, struct kv_batch **batch) G_GNUC_WARN_UNUSED_RESULT;

char *db_stats(struct db *db);

#endif
