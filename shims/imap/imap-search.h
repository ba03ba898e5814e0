/* SEARCH criteria (RFC 3501 6.4.4 and search-key in section 9, plus
 * MODSEQ from RFC 7162) as a tree for a SEARCH implementation to walk. */
#ifndef VVM_IMAP_SEARCH_H
#define VVM_IMAP_SEARCH_H

#include <stdint.h>
#include <glib.h>

#include "imap-date.h"
#include "imap-parser.h"

enum imap_search_type {
	/* No argument. */
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_ANSWERED,
	IMAP_SEARCH_DELETED,
	IMAP_SEARCH_DRAFT,
	IMAP_SEARCH_FLAGGED,
	IMAP_SEARCH_NEW,
	IMAP_SEARCH_OLD,
	IMAP_SEARCH_RECENT,
	IMAP_SEARCH_SEEN,
	IMAP_SEARCH_UNANSWERED,
	IMAP_SEARCH_UNDELETED,
	IMAP_SEARCH_UNDRAFT,
	IMAP_SEARCH_UNFLAGGED,
	IMAP_SEARCH_UNSEEN,
	/* u.str: a flag keyword (an atom). */
	IMAP_SEARCH_KEYWORD,
	IMAP_SEARCH_UNKEYWORD,
	/* u.str: the string to look for. */
	IMAP_SEARCH_BCC,
	IMAP_SEARCH_BODY,
	IMAP_SEARCH_CC,
	IMAP_SEARCH_FROM,
	IMAP_SEARCH_SUBJECT,
	IMAP_SEARCH_TEXT,
	IMAP_SEARCH_TO,
	/* u.header. */
	IMAP_SEARCH_HEADER,
	/* u.date: INTERNALDATE (BEFORE, ON, SINCE) or the Date header
	 * (SENT*), compared by date only. */
	IMAP_SEARCH_BEFORE,
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE,
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	/* u.size: RFC822.SIZE. */
	IMAP_SEARCH_LARGER,
	IMAP_SEARCH_SMALLER,
	/* u.modseq: the entry name and type, when given, are checked for
	 * syntax and dropped. */
	IMAP_SEARCH_MODSEQ,
	/* u.seqset: a GArray of struct imap_seq_range (imap-seqset.h) as
	 * written, before imap_seqset_normalize(). */
	IMAP_SEARCH_SEQSET,
	IMAP_SEARCH_UID,
	/* u.sub: NOT one key, OR exactly two, AND (a parenthesised group)
	 * one or more, linked by next. */
	IMAP_SEARCH_NOT,
	IMAP_SEARCH_OR,
	IMAP_SEARCH_AND,
};

struct imap_search_key {
	enum imap_search_type type;
	struct imap_search_key *next;   /* the next key of the same AND */
	union {
		char *str;
		struct {
			char *field;
			char *value;
		} header;
		struct imap_date date;
		uint32_t size;
		uint64_t modseq;
		GArray *seqset;
		struct imap_search_key *sub;
	} u;
};

struct imap_search {
	char *charset;                  /* CHARSET's value, or NULL */
	struct imap_search_key *keys;   /* all must match */
};

/* Nesting of NOT, OR and groups allowed; bounds the recursion. */
#define IMAP_SEARCH_MAX_DEPTH 32

/* Parses SEARCH's arguments, starting after the command name (after
 * "UID SEARCH" for UID SEARCH): [CHARSET astring SP] 1*search-key. Key
 * names are case-insensitive; strings are astrings; dates are "date"
 * (quoted or not); LARGER and SMALLER take a number; a bare sequence set
 * or UID's argument is validated. Returns 0 and sets *search_r, or -EINVAL
 * and sets *error_r to static text. */
int imap_search_parse(const struct imap_arg *args,
		      struct imap_search **search_r, const char **error_r);

/* Frees the tree; NULLs *search. */
void imap_search_free(struct imap_search **search);

#endif
