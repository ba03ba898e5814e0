#include "kv.h"

struct kv_batch *kv_batch_create(void)
{
	struct kv_batch *batch = g_new0(struct kv_batch, 1);

	batch->ops = g_array_new(FALSE, FALSE, sizeof(struct kv_op));
	return batch;
}

void kv_batch_destroy(struct kv_batch **batch)
{
	if (*batch == NULL)
		return;
	for (guint i = 0; i < (*batch)->ops->len; i++) {
		struct kv_op *op = &g_array_index((*batch)->ops, struct kv_op, i);

		if (op->key != NULL)
			g_bytes_unref(op->key);
		if (op->value != NULL)
			g_bytes_unref(op->value);
	}
	g_array_free((*batch)->ops, TRUE);
	g_free(*batch);
	*batch = NULL;
}

void kv_batch_put_bytes(struct kv_batch *batch, enum kv_table table,
			const void *key, size_t key_len, GBytes *value)
{
	struct kv_op op = {
		.table = table,
		.key = g_bytes_new(key, key_len),
		.value = value,
	};

	g_array_append_val(batch->ops, op);
}

void kv_batch_put(struct kv_batch *batch, enum kv_table table,
		  const void *key, size_t key_len, const void *value,
		  size_t value_len)
{
	kv_batch_put_bytes(batch, table, key, key_len,
			   g_bytes_new(value, value_len));
}

void kv_batch_delete(struct kv_batch *batch, enum kv_table table,
		     const void *key, size_t key_len)
{
	struct kv_op op = {
		.table = table,
		.key = g_bytes_new(key, key_len),
		.value = NULL,
	};

	g_array_append_val(batch->ops, op);
}

void kv_batch_put_sequenced(struct kv_batch *batch, enum kv_table table,
			    const char *sequence, GBytes *value)
{
	struct kv_op op = {
		.table = table,
		.value = value,
		.sequence = sequence,
	};

	g_array_append_val(batch->ops, op);
}

void kv_batch_append(struct kv_batch *to, struct kv_batch *from)
{
	g_array_append_vals(to->ops, from->ops->data, from->ops->len);
	/* The ops' references now belong to to. */
	g_array_set_size(from->ops, 0);
}
