/* RFC 3501 sequence sets ("1,3:5,7:*") for message sequence numbers and
 * UIDs alike. */
#ifndef VVM_IMAP_SEQSET_H
#define VVM_IMAP_SEQSET_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* "*" before imap_seqset_normalize(): nz-numbers are never 0. */
#define IMAP_SEQ_STAR 0u

struct imap_seq_range {
	uint32_t first;
	uint32_t last;
};

/* Parses a sequence-set: comma-separated seq-number or seq-range, each
 * seq-number an nz-number (1..2^32-1, no leading zero) or "*". Returns 0
 * and sets *ranges_r to a new GArray of struct imap_seq_range in the
 * order written, each as written (first may exceed last, "*" is
 * IMAP_SEQ_STAR, a lone number has first == last); or returns -EINVAL. */
int imap_seqset_parse(const char *str, GArray **ranges_r);

/* Replaces IMAP_SEQ_STAR with star (the highest sequence number or UID in
 * the mailbox), puts each range in order, then sorts and merges them so
 * that they are disjoint and ascending. As RFC 3501 wants, "5:*" with a
 * star of 3 becomes 3:5. */
void imap_seqset_normalize(GArray *ranges, uint32_t star);

/* Whether num lies in a normalized set; O(log n). */
bool imap_seqset_contains(const GArray *ranges, uint32_t num);

#endif
