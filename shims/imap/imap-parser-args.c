/* Building the argument tree of one command. The lexer checks every limit
 * before calling in here, so these only allocate what was allowed. Memory
 * lives until the next command: strings in one GStringChunk, each closed
 * list and each literal in a block of its own. */
#include <string.h>

#include "imap-parser-private.h"

#define CHUNK_SIZE 4096

static void level_free(gpointer level)
{
	g_array_free(level, TRUE);
}

static GArray *level_new(void)
{
	return g_array_new(FALSE, FALSE, sizeof(struct imap_arg));
}

void parser_args_init(struct imap_parser *p)
{
	p->chunk = g_string_chunk_new(CHUNK_SIZE);
	p->blocks = g_ptr_array_new_with_free_func(g_free);
	p->levels = g_ptr_array_new_with_free_func(level_free);
	g_ptr_array_add(p->levels, level_new());
}

void parser_args_deinit(struct imap_parser *p)
{
	g_string_chunk_free(p->chunk);
	g_ptr_array_free(p->blocks, TRUE);
	g_ptr_array_free(p->levels, TRUE);
}

void parser_args_reset(struct imap_parser *p)
{
	g_string_chunk_clear(p->chunk);
	g_ptr_array_set_size(p->blocks, 0);
	/* The level arrays are kept: their storage serves the next command. */
	for (guint i = 0; i < p->levels->len; i++)
		g_array_set_size(g_ptr_array_index(p->levels, i), 0);
	p->depth = 0;
	memset(&p->cmd, 0, sizeof(p->cmd));
	p->have_cmd = false;
}

const char *parser_args_store(struct imap_parser *p, const char *s, size_t len)
{
	return g_string_chunk_insert_len(p->chunk, s, (gssize)len);
}

char *parser_args_alloc(struct imap_parser *p, size_t size)
{
	char *block = g_malloc(size);

	g_ptr_array_add(p->blocks, block);
	return block;
}

void parser_args_add(struct imap_parser *p, const struct imap_arg *arg)
{
	g_array_append_vals(g_ptr_array_index(p->levels, p->depth), arg, 1);
}

void parser_args_open_list(struct imap_parser *p)
{
	p->depth++;
	if (p->depth == p->levels->len)
		g_ptr_array_add(p->levels, level_new());
}

/* Copies a level's members into a block that ends with IMAP_ARG_EOL. */
static const struct imap_arg *level_seal(struct imap_parser *p, GArray *level)
{
	size_t size = (level->len + 1) * sizeof(struct imap_arg);
	struct imap_arg *list = (struct imap_arg *)parser_args_alloc(p, size);

	if (level->len > 0)
		memcpy(list, level->data, level->len * sizeof(struct imap_arg));
	memset(&list[level->len], 0, sizeof(struct imap_arg));
	list[level->len].type = IMAP_ARG_EOL;
	return list;
}

void parser_args_close_list(struct imap_parser *p)
{
	GArray *level = g_ptr_array_index(p->levels, p->depth);
	struct imap_arg arg = {
		.type = IMAP_ARG_LIST,
		.len = level->len,
	};

	arg.v.list = level_seal(p, level);
	g_array_set_size(level, 0);
	p->depth--;
	parser_args_add(p, &arg);
}

void parser_args_finish(struct imap_parser *p)
{
	GArray *level = g_ptr_array_index(p->levels, 0);

	p->cmd.args = level_seal(p, level);
	p->cmd.count = level->len;
	p->have_cmd = true;
}
