/* FETCH data items (RFC 3501 6.4.5, BINARY from RFC 3516, MODSEQ from
 * RFC 7162). The command parser hands each item over as one atom, section
 * and partial included; this takes it apart. */
#ifndef VVM_IMAP_FETCH_ATT_H
#define VVM_IMAP_FETCH_ATT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "imap-parser.h"

enum imap_fetch_att_type {
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822,
	IMAP_FETCH_RFC822_HEADER,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_RFC822_TEXT,
	IMAP_FETCH_BODY,          /* BODY alone: non-extensible BODYSTRUCTURE */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,
	IMAP_FETCH_BODY_SECTION,  /* BODY[...] and BODY.PEEK[...] */
	IMAP_FETCH_BINARY,        /* BINARY[...] and BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,
};

/* What follows the section's part numbers. */
enum imap_section_text {
	IMAP_SECTION_NONE,        /* BODY[] or BODY[1.2]: all of it */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,        /* only after part numbers */
};

#define IMAP_SECTION_MAX_PARTS 32

struct imap_fetch_att {
	enum imap_fetch_att_type type;
	bool peek;                /* .PEEK: do not set \Seen */
	unsigned int part_count;  /* 0 for the whole message */
	uint32_t parts[IMAP_SECTION_MAX_PARTS];
	enum imap_section_text text;
	/* HEADER.FIELDS[.NOT]: the field names as given, NULL-terminated;
	 * NULL otherwise. Freed by imap_fetch_att_clear(). */
	char **fields;
	bool partial;             /* <offset.size> given */
	uint32_t partial_offset;
	uint32_t partial_size;    /* nz-number */
};

/* Parses one fetch-att, case-insensitively: "UID", "BODY.PEEK[1.2.MIME]",
 * "BODY[HEADER.FIELDS (DATE \"FROM\")]<0.100>" ... Section specs follow
 * RFC 3501 section 9; header field names are atoms or quoted strings and
 * must be valid RFC 5322 field names. Returns 0 and fills *att_r, or
 * -EINVAL and sets *error_r to static text. */
int imap_fetch_att_parse(const char *str, struct imap_fetch_att *att_r,
			 const char **error_r);

/* Frees what att holds; att may then be parsed into again. */
void imap_fetch_att_clear(struct imap_fetch_att *att);

/* Parses FETCH's item argument: the macros ALL, FAST and FULL (expanded),
 * one item, or a parenthesised list of items. Returns 0 and sets *atts_r
 * to a new GArray of struct imap_fetch_att that clears its members when
 * freed, or -EINVAL with *error_r set. */
int imap_fetch_atts_parse(const struct imap_arg *arg, GArray **atts_r,
			  const char **error_r);

#endif
