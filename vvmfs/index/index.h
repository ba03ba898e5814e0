/* Message indexing: validate a message once at commit and keep everything a
 * shim needs to answer FETCH without parsing it again. */
#ifndef VVM_INDEX_H
#define VVM_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* What a message is for, from Message-Context (RFC 3458) and the mailbox. */
enum index_context {
	INDEX_CONTEXT_NONE = 0,     /* no Message-Context header */
	INDEX_CONTEXT_VOICE,        /* voice-message */
	INDEX_CONTEXT_VIDEO,        /* video-message */
	INDEX_CONTEXT_FAX,          /* fax-message */
	INDEX_CONTEXT_TEXT,         /* text-message */
	INDEX_CONTEXT_MULTIMEDIA,   /* multimedia-message */
	INDEX_CONTEXT_OTHER,        /* any other token */
};

/* One MIME section, offsets into the canonical (CRLF) message bytes.
 * part is the IMAP section number ("" for the whole message, "1", "1.2",
 * "2.1" for the parts of an encapsulated message/rfc822 ...).
 * header_* covers the part's header block including the blank line that
 * ends it (for the top level: the RFC 5322 header, i.e. BODY[HEADER]; for
 * a part: BODY[<part>.MIME]); body_* covers BODY[<part>] (for the top
 * level: BODY[TEXT]).
 *
 * Naming: a part that is empty or ends with "." names a message rather
 * than a MIME part, and its ranges are BODY[<part>HEADER] and
 * BODY[<part>TEXT]: "" is the top-level message and "N." the message
 * encapsulated in the message/rfc822 part "N" (so "2." gives BODY[2.HEADER]
 * and BODY[2.TEXT], while "2" gives BODY[2.MIME] and BODY[2]). When a
 * message (top level or encapsulated) is not multipart, its part "1"
 * ("N.1") is its own body as RFC 3501 says, with the message header as its
 * MIME header. Entries come in document order, a message before its parts.
 * A header-only message has an empty body range at its end. */
struct index_section {
	char *part;
	uint64_t header_offset;
	uint64_t header_length;
	uint64_t body_offset;
	uint64_t body_length;
};

/* The ENVELOPE, BODYSTRUCTURE and BODY strings are ready to send.
 * Strings are IMAP quoted strings ("\"" and "\\" escaped) whenever the
 * value is 7-bit; unstructured text that was raw 8-bit (Subject,
 * Content-Description) is re-encoded as RFC 2047 UTF-8 encoded words, as
 * are display names that GMime decoded to non-ASCII; non-ASCII parameter
 * values become RFC 2231 "NAME*" "utf-8''%XX" pairs. Anything else that
 * still holds 8-bit bytes (an RFC 6532 address, a Message-ID ...) is sent
 * as a literal "{n}\r\n<bytes>". Absent values are NIL. Media types,
 * subtypes, parameter names, dispositions and encodings are upper-cased
 * ("AUDIO" "AMR", "BASE64"); an address without a domain has host "".
 * Sizes are octets of the canonical bytes; line counts are CRLFs plus one
 * for a last line without CRLF. */
struct index {
	char *envelope;        /* IMAP ENVELOPE, RFC 3501 7.4.2, with parentheses */
	char *bodystructure;   /* IMAP BODYSTRUCTURE (extensible form) */
	char *body;            /* IMAP BODY (non-extensible form) */
	GArray *sections;      /* of struct index_section, in document order */
	enum index_context context;
	char *context_text;    /* the Message-Context value as written, or NULL */
	/* Content-Duration in seconds (RFC 3803): the top-level header, else
	 * that of the first audio part that has one (not looking into
	 * message/rfc822 parts); -1 when the message has none. */
	int64_t duration;
	/* Expires (RFC 4021) as a Unix time, 0 when absent. */
	int64_t expires;
	int64_t date;          /* Date header as a Unix time, 0 if unparseable */
	uint64_t size;         /* length of the canonical message */
};

/* Limits that keep a hostile message from costing unbounded work. */
struct index_limits {
	size_t max_size;          /* bytes of the raw message */
	unsigned max_depth;       /* MIME nesting */
	unsigned max_parts;       /* total MIME parts */
	size_t max_header_line;   /* one unfolded header field */
};

void index_limits_default(struct index_limits *limits_r);

/* Initializes GMime once for the process; safe to call from any thread and
 * any number of times. index_message() calls it itself. */
void index_init(void);

/* True when every line ending in raw is already CRLF, so that raw can be
 * stored as it is (index_canonicalize() would only copy it). */
bool index_is_canonical(const void *raw, size_t raw_len);

/* Converts raw to canonical form: every line ending becomes CRLF (bare LF
 * and bare CR alike). The result is what vvmfs stores and what all offsets
 * refer to. Returns a new GBytes. */
GBytes *index_canonicalize(const void *raw, size_t raw_len);

/* Validates and indexes a message in canonical form.
 * Returns 0 and sets *index_r on success.
 * Returns -EINVAL for a message that is not valid RFC 5322 / MIME and
 * -EFBIG past limits->max_size; *reason_r then points to a static,
 * human-readable reason ("no From header", "multipart without boundary",
 * "NUL byte in message", ...). Nothing is allocated on failure.
 * The reasons: "empty message", "message too large", "NUL byte in
 * message", "bare CR or LF in message" (input that did not go through
 * index_canonicalize()), "malformed header line", "header line too long",
 * "no From header", "From header without an address", "no Date header",
 * "multipart without boundary", "missing closing MIME boundary",
 * "multipart without any part", "MIME nesting too deep", "too many MIME
 * parts", "encoded message/rfc822 part" (RFC 2046 allows only 7bit, 8bit
 * and binary there), "bad Content-Duration". From and Date are required of
 * the top-level message only. */
int index_message(const void *canonical, size_t len,
		  const struct index_limits *limits, struct index **index_r,
		  const char **reason_r);

void index_free(struct index **index);

/* The value of the first `name:` field of a header block (which ends at
 * its blank line), unfolded; NULL when there is none. Caller frees. */
char *index_header_value(const char *header, size_t len, const char *name);
/* The same for the header block of section s of the canonical msg. */
char *index_section_field(const char *msg, const struct index_section *s,
			  const char *name);
/* True when section s of msg is of any audio/ type ("audio/amr; ..."). */
bool index_section_is_audio(const char *msg, const struct index_section *s);

/* Serialization for storage: a self-describing, versioned byte string. */
GBytes *index_serialize(const struct index *index);
/* Returns 0 and sets *index_r, or -EINVAL for a corrupt record. */
int index_deserialize(const void *data, size_t len, struct index **index_r);

/* The sections as text, one per line: "<part> <hoff> <hlen> <boff> <blen>\n",
 * with "." standing for the top-level part. Returns a new string. */
char *index_sections_format(const struct index *index);

#endif
