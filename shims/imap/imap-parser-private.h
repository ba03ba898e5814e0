/* The parser's state, shared by the feeding loop (imap-parser.c), the
 * lexer (imap-parser-lexer.c) and the code that builds the argument tree
 * (imap-parser-args.c). */
#ifndef VVM_IMAP_PARSER_PRIVATE_H
#define VVM_IMAP_PARSER_PRIVATE_H

#include <glib.h>

#include "imap-parser.h"

enum parser_state {
	ST_TAG,            /* at a line start, or inside the tag */
	ST_CMD,            /* command name */
	ST_ARGS,           /* between arguments */
	ST_ATOM,
	ST_QUOTED,
	ST_QUOTED_ESC,
	ST_LITERAL_SIZE,   /* after "{" */
	ST_LITERAL_EOL,    /* after "}" */
	ST_LITERAL_LF,     /* after "}" CR */
	ST_LITERAL_DATA,
	ST_EOL_LF,         /* CR seen where a line may end */
	ST_SKIP,           /* after an error: up to the end of the line */
	ST_SKIP_LITERAL,   /* after an error: a {n+} literal's data */
	ST_RAW_LINE,       /* imap_parser_read_line() */
};

/* How far a literal announcement "{digits[+]}" has got. The lexer and
 * the error skipper track it the same way, so that a line rejected in
 * the middle of an announcement is still skipped correctly. */
enum lit_stage {
	LIT_NONE,
	LIT_DIGITS,        /* "{" and maybe digits */
	LIT_PLUS,          /* "{n+" */
	LIT_CLOSED,        /* "{n}" or "{n+}", CR perhaps after it */
};

struct imap_parser {
	struct imap_parser_limits limits;
	enum parser_state state;
	/* The last call returned DONE or ERROR, so the next one drops that
	 * command first. */
	bool finished;

	/* The command being parsed. */
	size_t line_used;
	uint64_t literal_used;
	unsigned int arg_count;
	unsigned int depth;
	bool need_sep;       /* an argument just ended: SP, ")" or CRLF next */
	bool empty_line;     /* the pending CR ends an empty line */
	bool saw_cr;         /* ST_EOL_LF has had its CR */
	GString *tok;        /* the token being lexed, unescaped */
	/* Atom after BODY/BINARY: 0 before "[", 1 inside, 2 after "]". */
	unsigned int bracket;
	bool bracket_quote;
	bool bracket_escape;

	struct {
		enum lit_stage stage;
		uint64_t size;   /* saturates; checked at "}" */
		unsigned int digits;
		bool nonsync;
	} lit;
	bool literal8;       /* the announcement began with "~" */
	/* The literal whose data is being read. */
	char *lit_data;
	uint32_t lit_size;
	uint32_t lit_pos;
	unsigned int lit_flags;
	uint64_t skip_left;  /* ST_SKIP_LITERAL */

	/* Strings of the command; lists and literal data are g_malloc'ed
	 * blocks in blocks; one GArray of struct imap_arg per open list
	 * level in levels, [0] being the command's own arguments. */
	GStringChunk *chunk;
	GPtrArray *blocks;
	GPtrArray *levels;
	struct imap_command cmd;
	bool have_cmd;

	enum imap_parse_error error;
	const char *error_msg;
};

/* What the lexer did with one byte. */
enum step {
	STEP_NEXT,      /* byte consumed */
	STEP_AGAIN,     /* look at the same byte in the new state */
	STEP_DONE,
	STEP_LITERAL,   /* synchronizing literal announced */
	STEP_ERROR,
};

/* Lexes one byte of command text, in any state but ST_LITERAL_DATA,
 * ST_SKIP, ST_SKIP_LITERAL and ST_RAW_LINE. */
enum step parser_step(struct imap_parser *p, unsigned char c);
/* Records an error and enters ST_SKIP; returns STEP_ERROR. The caller
 * then gives the offending byte to parser_skip_byte(). */
enum step parser_fail(struct imap_parser *p, enum imap_parse_error error,
		      const char *msg);
/* Error recovery: takes one byte of the rest of a bad line. */
void parser_skip_byte(struct imap_parser *p, unsigned char c);
/* Follows a literal announcement "{digits[+]}" one byte at a time. */
void parser_lit_track(struct imap_parser *p, unsigned char c);
/* Adds the literal just read to the tree. */
void parser_end_literal(struct imap_parser *p);

void parser_args_init(struct imap_parser *p);
void parser_args_deinit(struct imap_parser *p);
/* Drops the command's arguments and strings. */
void parser_args_reset(struct imap_parser *p);
/* Returns a NUL-terminated copy of len bytes, freed by the reset. */
const char *parser_args_store(struct imap_parser *p, const char *s, size_t len);
/* Returns size bytes freed by the reset. */
char *parser_args_alloc(struct imap_parser *p, size_t size);
/* Appends arg to the innermost open list. */
void parser_args_add(struct imap_parser *p, const struct imap_arg *arg);
void parser_args_open_list(struct imap_parser *p);
void parser_args_close_list(struct imap_parser *p);
/* Completes p->cmd from the top level; every list must be closed. */
void parser_args_finish(struct imap_parser *p);

#endif
