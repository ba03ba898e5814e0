/* The key-value backend under the mail store: ordered tables, point reads,
 * prefix scans and atomic, durable write batches.
 *
 * This is the only seam between vvmfs and its storage engine: RocksDB is the
 * embedded default (kv-rocksdb.c); a Ceph RADOS backend (omap objects) can
 * implement the same vtable. No engine type appears in this header. */
#ifndef VVM_KV_H
#define VVM_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* One table per purpose; RocksDB keeps each in its own column family. */
enum kv_table {
	KV_META,        /* store-wide counters and version */
	KV_SUBSCRIBERS, /* subscribers and their profiles */
	KV_MAILBOXES,   /* mailbox records and names */
	KV_MESSAGES,    /* per-message metadata: uid, flags, modseq, sizes */
	KV_INDEX,       /* parsed index, change log, expiry index */
	KV_BODIES,      /* message bytes (large values) */
	KV_OUTBOX,      /* pending notifications */
	KV_TABLE_COUNT
};

struct kv;
struct kv_batch;

enum kv_open_mode {
	KV_OPEN_CREATE,    /* read-write, made when missing */
	KV_OPEN_EXISTING,  /* read-write, an existing store only */
	/* An existing store, changed in no way (not even its logs or a
	 * recovery written back); still refused while another process has
	 * it open. Writes fail. */
	KV_OPEN_READ_ONLY,
};

struct kv_backend {
	const char *name;
	/* Returns 0 and *kv_r, or -errno with *error_r (g_free) explaining:
	 * -EBUSY when another process has the store open. */
	int (*open)(const char *dir, enum kv_open_mode mode, struct kv **kv_r,
		    char **error_r);
	void (*close)(struct kv *kv);
	/* Point read. Returns 0 with *value_r (caller frees with
	 * g_bytes_unref), -ENOENT, or -EIO. */
	int (*get)(struct kv *kv, enum kv_table table, const void *key,
		   size_t key_len, GBytes **value_r);
	/* Calls cb for each key >= start that begins with prefix, in key
	 * order, until cb returns nonzero (which is returned) or keys end
	 * (0). -EIO on a read error. */
	int (*scan)(struct kv *kv, enum kv_table table, const void *prefix,
		    size_t prefix_len, const void *start, size_t start_len,
		    int (*cb)(void *ctx, const void *key, size_t key_len,
			      const void *value, size_t value_len),
		    void *ctx);
	/* Applies the batch atomically; with sync, returns only once it is
	 * durable. 0 or -EIO. */
	int (*write)(struct kv *kv, const struct kv_batch *batch, bool sync);
	/* Engine statistics for humans; caller frees. */
	char *(*stats)(struct kv *kv);
};

extern const struct kv_backend kv_rocksdb_backend;

/* A batch is a list of puts and deletes, applied in order. */
struct kv_op {
	enum kv_table table;
	GBytes *key;   /* NULL until db_submit() numbers a sequenced put */
	GBytes *value; /* NULL: delete */
	/* For a sequenced put, the name of its sequence (db.h); backends
	 * get the op with its key set and ignore this. */
	const char *sequence;
};

struct kv_batch {
	GArray *ops; /* of struct kv_op */
};

struct kv_batch *kv_batch_create(void);
void kv_batch_destroy(struct kv_batch **batch);
void kv_batch_put(struct kv_batch *batch, enum kv_table table,
		  const void *key, size_t key_len, const void *value,
		  size_t value_len);
/* Takes ownership of value. */
void kv_batch_put_bytes(struct kv_batch *batch, enum kv_table table,
			const void *key, size_t key_len, GBytes *value);
void kv_batch_delete(struct kv_batch *batch, enum kv_table table,
		     const void *key, size_t key_len);
/* Puts value (taking ownership) under the next number of the store-wide
 * sequence named sequence (a static string), which db_submit() assigns:
 * see db.h. */
void kv_batch_put_sequenced(struct kv_batch *batch, enum kv_table table,
			    const char *sequence, GBytes *value);
/* Moves every op of from to the end of to. */
void kv_batch_append(struct kv_batch *to, struct kv_batch *from);

#endif
