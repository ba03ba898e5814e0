/* What the files of the indexer share: the tree of MIME entities that the
 * parser builds and the writers of the IMAP strings walk. */
#ifndef VVM_INDEX_PRIVATE_H
#define VVM_INDEX_PRIVATE_H

#include <gmime/gmime.h>

#include "index.h"

/* The header fields the index reads; the parser keeps no others. */
enum index_hdr {
	INDEX_HDR_DATE,
	INDEX_HDR_SUBJECT,
	INDEX_HDR_FROM,
	INDEX_HDR_SENDER,
	INDEX_HDR_REPLY_TO,
	INDEX_HDR_TO,
	INDEX_HDR_CC,
	INDEX_HDR_BCC,
	INDEX_HDR_IN_REPLY_TO,
	INDEX_HDR_MESSAGE_ID,
	INDEX_HDR_CONTENT_TYPE,
	INDEX_HDR_CONTENT_TRANSFER_ENCODING,
	INDEX_HDR_CONTENT_ID,
	INDEX_HDR_CONTENT_DESCRIPTION,
	INDEX_HDR_CONTENT_DISPOSITION,
	INDEX_HDR_CONTENT_LANGUAGE,
	INDEX_HDR_CONTENT_LOCATION,
	INDEX_HDR_CONTENT_MD5,
	INDEX_HDR_CONTENT_DURATION,
	INDEX_HDR_MESSAGE_CONTEXT,
	INDEX_HDR_EXPIRES,
	INDEX_HDR_COUNT
};

enum index_node_kind {
	INDEX_NODE_LEAF,
	INDEX_NODE_MULTIPART,
	INDEX_NODE_MESSAGE,     /* a message/rfc822 part */
};

/* One MIME entity: the top-level message, a part of a multipart, or the
 * message inside a message/rfc822 part. A message is described by its own
 * header, so the same node stands for the message and for its content. */
struct index_node {
	enum index_node_kind kind;
	/* First occurrence of each field, unfolded and trimmed; NULL when
	 * the field is absent. */
	char *hdr[INDEX_HDR_COUNT];
	GMimeContentType *type;
	uint64_t header_offset;
	uint64_t header_length;
	uint64_t body_offset;
	uint64_t body_length;
	uint64_t lines;         /* of the body */
	/* The parts of a multipart, or the one message of a message/rfc822
	 * part; NULL for a leaf. */
	GPtrArray *children;
};

/* Builds the tree of a canonical message, enforcing the limits.
 * Returns 0 and sets *root_r, or -EINVAL with a static *reason_r. */
int index_parse(const char *msg, size_t len, const struct index_limits *limits,
		struct index_node **root_r, const char **reason_r);
void index_node_free(struct index_node *node);

/* Length of the token that starts a structured value, before white space,
 * a comment or a parameter. */
size_t index_token_length(const char *value);
/* Whether that token is token, ignoring case. */
gboolean index_token_is(const char *value, const char *token);

gboolean index_node_type_is(const struct index_node *node, const char *type,
			    const char *subtype);

/* A struct index with an empty sections array that frees its names. */
struct index *index_alloc(void);

gboolean index_is_ascii(const char *str);
/* IMAP nstring: NIL for NULL, else a quoted string, else a literal. */
void index_append_nstring(GString *out, const char *str);
/* An unstructured header value as an nstring that stays 7-bit. */
void index_append_text(GString *out, const char *raw);

void index_envelope_append(GString *out, const struct index_node *msg);
/* Whether the From header of msg holds at least one address. */
gboolean index_envelope_has_from(const struct index_node *msg);
void index_bodystructure_append(GString *out, const struct index_node *node,
				gboolean extensible);

#endif
