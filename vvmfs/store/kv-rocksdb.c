/* The RocksDB backend: one column family per kv_table, message bodies in
 * BlobDB blob files so that large values stay out of the LSM tree. */
#include "kv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <rocksdb/c.h>

static const char *const cf_names[KV_TABLE_COUNT] = {
	[KV_META] = "default",
	[KV_SUBSCRIBERS] = "subscribers",
	[KV_MAILBOXES] = "mailboxes",
	[KV_MESSAGES] = "messages",
	[KV_INDEX] = "index",
	[KV_BODIES] = "bodies",
	[KV_OUTBOX] = "outbox",
};

struct kv {
	rocksdb_t *db;
	rocksdb_options_t *db_options;
	rocksdb_options_t *cf_options[KV_TABLE_COUNT];
	rocksdb_column_family_handle_t *cf[KV_TABLE_COUNT];
	rocksdb_cache_t *block_cache;
	rocksdb_block_based_table_options_t *table_options;
	rocksdb_readoptions_t *read_options;
	rocksdb_writeoptions_t *write_sync;
	rocksdb_writeoptions_t *write_nosync;
	int lock_fd; /* read-only: our hold on the store's LOCK, else -1 */
};

static rocksdb_options_t *cf_options_create(struct kv *kv,
					    enum kv_table table)
{
	rocksdb_options_t *opts = rocksdb_options_create();

	rocksdb_options_set_block_based_table_factory(opts, kv->table_options);
	rocksdb_options_set_compression(opts, rocksdb_lz4_compression);
	if (table == KV_BODIES) {
		/* Audio does not compress; keep bodies out of compaction. */
		rocksdb_options_set_enable_blob_files(opts, 1);
		rocksdb_options_set_min_blob_size(opts, 4096);
		rocksdb_options_set_blob_file_size(opts, 256 << 20);
		rocksdb_options_set_enable_blob_gc(opts, 1);
		rocksdb_options_set_write_buffer_size(opts, 32 << 20);
	} else {
		rocksdb_options_set_write_buffer_size(opts, 8 << 20);
	}
	return opts;
}

static void kv_free(struct kv *kv)
{
	for (int i = 0; i < KV_TABLE_COUNT; i++) {
		if (kv->cf[i] != NULL)
			rocksdb_column_family_handle_destroy(kv->cf[i]);
		if (kv->cf_options[i] != NULL)
			rocksdb_options_destroy(kv->cf_options[i]);
	}
	if (kv->db != NULL)
		rocksdb_close(kv->db);
	if (kv->db_options != NULL)
		rocksdb_options_destroy(kv->db_options);
	if (kv->table_options != NULL)
		rocksdb_block_based_options_destroy(kv->table_options);
	if (kv->block_cache != NULL)
		rocksdb_cache_destroy(kv->block_cache);
	if (kv->read_options != NULL)
		rocksdb_readoptions_destroy(kv->read_options);
	if (kv->write_sync != NULL)
		rocksdb_writeoptions_destroy(kv->write_sync);
	if (kv->write_nosync != NULL)
		rocksdb_writeoptions_destroy(kv->write_nosync);
	if (kv->lock_fd >= 0)
		close(kv->lock_fd);
	g_free(kv);
}

/* Takes the lock RocksDB takes on a store it opens (an fcntl write lock
 * on dir/LOCK), so that a store in use is refused in every mode: a
 * read-only open does not take it itself. Returns the descriptor that
 * holds it (closing it lets go), -ENOENT without a store, -EBUSY. */
static int lock_store(const char *dir, char **error_r)
{
	g_autofree char *path = g_build_filename(dir, "LOCK", NULL);
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		*error_r = g_strdup_printf("%s: no store (%s)", dir,
					   g_strerror(err));
		return -err;
	}
	if (fcntl(fd, F_SETLK, &lock) < 0) {
		*error_r = g_strdup_printf("%s: in use by another process "
					   "(is vvmfs running on it?)", dir);
		close(fd);
		return -EBUSY;
	}
	return fd;
}

static int rocks_open(const char *dir, enum kv_open_mode mode,
		      struct kv **kv_r, char **error_r)
{
	struct kv *kv = g_new0(struct kv, 1);
	const rocksdb_options_t *cf_opts[KV_TABLE_COUNT];
	bool create = mode == KV_OPEN_CREATE;
	char *err = NULL;

	kv->lock_fd = -1;
	if (mode != KV_OPEN_CREATE) {
		int fd = lock_store(dir, error_r);

		if (fd < 0) {
			kv_free(kv);
			return fd;
		}
		/* A read-write open takes the lock itself; closing this
		 * descriptor first lets go of ours, as fcntl locks go. */
		if (mode == KV_OPEN_READ_ONLY)
			kv->lock_fd = fd;
		else
			close(fd);
	}

	kv->block_cache = rocksdb_cache_create_lru(32 << 20);
	kv->table_options = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(kv->table_options,
						    kv->block_cache);
	rocksdb_block_based_options_set_cache_index_and_filter_blocks(
		kv->table_options, 1);
	rocksdb_block_based_options_set_filter_policy(
		kv->table_options, rocksdb_filterpolicy_create_bloom(10));

	kv->db_options = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(kv->db_options, create);
	rocksdb_options_set_create_missing_column_families(kv->db_options,
							   create);
	rocksdb_options_set_max_background_jobs(kv->db_options, 2);
	rocksdb_options_set_keep_log_file_num(kv->db_options, 4);
	/* Group commit of concurrent syncs; WAL writes must be ordered with
	 * our own leader thread anyway. */
	rocksdb_options_set_enable_pipelined_write(kv->db_options, 0);

	for (int i = 0; i < KV_TABLE_COUNT; i++) {
		kv->cf_options[i] = cf_options_create(kv, i);
		cf_opts[i] = kv->cf_options[i];
	}
	if (mode == KV_OPEN_READ_ONLY)
		kv->db = rocksdb_open_for_read_only_column_families(
			kv->db_options, dir, KV_TABLE_COUNT, cf_names, cf_opts,
			kv->cf, 0, &err);
	else
		kv->db = rocksdb_open_column_families(kv->db_options, dir,
						      KV_TABLE_COUNT, cf_names,
						      cf_opts, kv->cf, &err);
	if (err != NULL) {
		*error_r = g_strdup_printf("cannot open RocksDB store %s: %s",
					   dir, err);
		rocksdb_free(err);
		kv->db = NULL;
		kv_free(kv);
		return -EIO;
	}
	kv->read_options = rocksdb_readoptions_create();
	kv->write_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(kv->write_sync, 1);
	kv->write_nosync = rocksdb_writeoptions_create();
	*kv_r = kv;
	return 0;
}

static void rocks_close(struct kv *kv)
{
	kv_free(kv);
}

static void free_pinnable(gpointer slice)
{
	rocksdb_pinnableslice_destroy(slice);
}

static int rocks_get(struct kv *kv, enum kv_table table, const void *key,
		     size_t key_len, GBytes **value_r)
{
	char *err = NULL;
	rocksdb_pinnableslice_t *slice;
	const char *data;
	size_t len;

	slice = rocksdb_get_pinned_cf(kv->db, kv->read_options, kv->cf[table],
				      key, key_len, &err);
	if (err != NULL) {
		rocksdb_free(err);
		return -EIO;
	}
	if (slice == NULL)
		return -ENOENT;
	/* Hand out the pinned value without copying it (bodies are large). */
	data = rocksdb_pinnableslice_value(slice, &len);
	*value_r = g_bytes_new_with_free_func(data, len, free_pinnable, slice);
	return 0;
}

static bool has_prefix(const char *key, size_t key_len, const void *prefix,
		       size_t prefix_len)
{
	return key_len >= prefix_len && memcmp(key, prefix, prefix_len) == 0;
}

static int rocks_scan(struct kv *kv, enum kv_table table, const void *prefix,
		      size_t prefix_len, const void *start, size_t start_len,
		      int (*cb)(void *ctx, const void *key, size_t key_len,
				const void *value, size_t value_len),
		      void *ctx)
{
	rocksdb_iterator_t *it;
	char *err = NULL;
	int ret = 0;

	it = rocksdb_create_iterator_cf(kv->db, kv->read_options,
					kv->cf[table]);
	if (start != NULL && start_len > 0)
		rocksdb_iter_seek(it, start, start_len);
	else
		rocksdb_iter_seek(it, prefix, prefix_len);
	for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t key_len, value_len;
		const char *key = rocksdb_iter_key(it, &key_len);
		const char *value;

		if (!has_prefix(key, key_len, prefix, prefix_len))
			break;
		value = rocksdb_iter_value(it, &value_len);
		ret = cb(ctx, key, key_len, value, value_len);
		if (ret != 0)
			break;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	if (err != NULL) {
		rocksdb_free(err);
		return -EIO;
	}
	return ret;
}

static int rocks_write(struct kv *kv, const struct kv_batch *batch,
		       bool sync)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	char *err = NULL;

	for (guint i = 0; i < batch->ops->len; i++) {
		const struct kv_op *op =
			&g_array_index(batch->ops, struct kv_op, i);
		gsize key_len, value_len;
		const void *key = g_bytes_get_data(op->key, &key_len);

		if (op->value == NULL) {
			rocksdb_writebatch_delete_cf(wb, kv->cf[op->table],
						     key, key_len);
			continue;
		}
		const void *value = g_bytes_get_data(op->value, &value_len);
		rocksdb_writebatch_put_cf(wb, kv->cf[op->table], key, key_len,
					  value, value_len);
	}
	rocksdb_write(kv->db, sync ? kv->write_sync : kv->write_nosync, wb,
		      &err);
	rocksdb_writebatch_destroy(wb);
	if (err != NULL) {
		g_warning("RocksDB write failed: %s", err);
		rocksdb_free(err);
		return -EIO;
	}
	return 0;
}

static char *rocks_stats(struct kv *kv)
{
	char *text = rocksdb_property_value(kv->db, "rocksdb.stats");
	char *copy = g_strdup(text != NULL ? text : "");

	rocksdb_free(text);
	return copy;
}

const struct kv_backend kv_rocksdb_backend = {
	.name = "rocksdb",
	.open = rocks_open,
	.close = rocks_close,
	.get = rocks_get,
	.scan = rocks_scan,
	.write = rocks_write,
	.stats = rocks_stats,
};
