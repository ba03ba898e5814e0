/* IMAP message flags as vvmfs stores them: a bit set, with one canonical
 * spelling each. Shared by vvmfs (user.imap.flags) and the shims. */
#ifndef VVM_FLAGS_H
#define VVM_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

enum vvm_flag {
	VVM_FLAG_ANSWERED = 1u << 0,
	VVM_FLAG_FLAGGED = 1u << 1,
	VVM_FLAG_DELETED = 1u << 2,
	VVM_FLAG_SEEN = 1u << 3,
	VVM_FLAG_DRAFT = 1u << 4,
	VVM_FLAG_GREETING_ON = 1u << 5, /* $CNS-Greeting-On */
};
#define VVM_FLAGS_ALL 0x3fu

enum vvm_flags_op {
	VVM_FLAGS_REPLACE, /* STORE FLAGS */
	VVM_FLAGS_ADD,     /* STORE +FLAGS */
	VVM_FLAGS_REMOVE,  /* STORE -FLAGS */
};

/* Looks up one flag name, case-insensitively, aliases included.
 * Returns the flag bit, or 0 for a name that is not a storable flag. */
uint32_t vvm_flag_from_name(const char *name, size_t len);

/* Parses the user.imap.flags write syntax: an optional leading '+' or '-'
 * then flag names separated by spaces (a trailing newline is allowed).
 * Returns 0 and sets *op_r and *flags_r, or -EINVAL with *bad_r and
 * *bad_len_r locating the first unknown name inside text. */
int vvm_flags_parse(const char *text, size_t len, enum vvm_flags_op *op_r,
		    uint32_t *flags_r, const char **bad_r, size_t *bad_len_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* Applies op to old. */
uint32_t vvm_flags_apply(uint32_t old, enum vvm_flags_op op, uint32_t flags);

/* Appends the canonical spelling of flags to out, separated by spaces. */
void vvm_flags_format(uint32_t flags, GString *out);

#endif
