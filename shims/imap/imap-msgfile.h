/* One committed message opened on the mount for FETCH and SEARCH: its
 * bytes, size and the index vvmfs stored at commit, read lazily so a
 * FETCH of FLAGS alone touches nothing. */
#ifndef VVM_IMAP_MSGFILE_H
#define VVM_IMAP_MSGFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

struct imap_mailbox;

struct msg_range {
	uint64_t offset;
	uint64_t length;
};

struct msg_summary;

struct msgfile {
	char *path;
	/* When set, size, the index and the header come from here and the
	 * file is opened only for other bytes. */
	const struct msg_summary *summary;
	int fd;                 /* -1 until first needed */
	int64_t size;           /* -1 until stat'ed */
	char *sections;         /* user.imap.sections, lazily */
	/* With a rendition (the client's accept list is set), the bytes
	 * and their structure come from <mailbox>/.rendition/<uid>.eml;
	 * RFC822.SIZE, ENVELOPE and INTERNALDATE stay the stored
	 * message's, as the spec says. */
	char *rendition_path;   /* NULL: the stored message is served */
	int rendition_fd;
};

void msgfile_init(struct msgfile *mf, const struct imap_mailbox *box,
		  uint32_t uid, bool rendition);
/* Lets the message be served from box's summary, read if need be. */
void msgfile_use_summary(struct msgfile *mf, struct imap_mailbox *box,
			 uint32_t uid);
void msgfile_clear(struct msgfile *mf);

/* RFC822.SIZE. Returns 0 or -errno (-ENOENT: expunged meanwhile). */
int msgfile_size(struct msgfile *mf, uint64_t *size_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* The length of the bytes served: RFC822.SIZE, or the rendition's. */
int msgfile_served_size(struct msgfile *mf, uint64_t *size_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* A stored attribute (user.imap.envelope ...) as a new string. */
int msgfile_xattr(struct msgfile *mf, const char *name, char **value_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Reads len bytes at offset into a new buffer (NUL-terminated). */
int msgfile_read(struct msgfile *mf, uint64_t offset, uint64_t len,
		 char **data_r) G_GNUC_WARN_UNUSED_RESULT;

/* The header or body range of a section named as in user.imap.sections
 * ("" is the top level, "2." the message inside part 2, "1.2" a part).
 * Returns 0, -ENOENT when there is no such section, or -errno. */
int msgfile_section(struct msgfile *mf, const char *part, bool header,
		    struct msg_range *range_r) G_GNUC_WARN_UNUSED_RESULT;

/* Keeps (or, with exclude, drops) the header fields named in fields
 * (case-insensitive) from a header block; the blank line that ends the
 * block stays. Returns a new string. */
GString *header_filter(const char *header, size_t len, char **fields,
		       bool exclude);

#endif
