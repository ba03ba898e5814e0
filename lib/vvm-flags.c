#include "vvm-flags.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	uint32_t flag;
} flag_names[] = {
	{ "\\Answered", VVM_FLAG_ANSWERED },
	{ "\\Flagged", VVM_FLAG_FLAGGED },
	{ "\\Deleted", VVM_FLAG_DELETED },
	{ "\\Seen", VVM_FLAG_SEEN },
	{ "\\Draft", VVM_FLAG_DRAFT },
	{ "$CNS-Greeting-On", VVM_FLAG_GREETING_ON },
	/* Apple's clients spell the active-greeting flag their own way. */
	{ "$AppleVM-ActiveGreeting", VVM_FLAG_GREETING_ON },
};

uint32_t vvm_flag_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < G_N_ELEMENTS(flag_names); i++) {
		if (strlen(flag_names[i].name) == len &&
		    g_ascii_strncasecmp(flag_names[i].name, name, len) == 0)
			return flag_names[i].flag;
	}
	return 0;
}

int vvm_flags_parse(const char *text, size_t len, enum vvm_flags_op *op_r,
		    uint32_t *flags_r, const char **bad_r, size_t *bad_len_r)
{
	enum vvm_flags_op op = VVM_FLAGS_REPLACE;
	uint32_t flags = 0;
	size_t i = 0;

	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && (text[0] == '+' || text[0] == '-')) {
		op = text[0] == '+' ? VVM_FLAGS_ADD : VVM_FLAGS_REMOVE;
		i = 1;
	}
	while (i < len) {
		if (text[i] == ' ') {
			i++;
			continue;
		}
		size_t start = i;
		while (i < len && text[i] != ' ')
			i++;
		uint32_t flag = vvm_flag_from_name(text + start, i - start);
		if (flag == 0) {
			*bad_r = text + start;
			*bad_len_r = i - start;
			return -EINVAL;
		}
		flags |= flag;
	}
	*op_r = op;
	*flags_r = flags;
	return 0;
}

uint32_t vvm_flags_apply(uint32_t old, enum vvm_flags_op op, uint32_t flags)
{
	switch (op) {
	case VVM_FLAGS_ADD:
		return old | flags;
	case VVM_FLAGS_REMOVE:
		return old & ~flags;
	case VVM_FLAGS_REPLACE:
		break;
	}
	return flags;
}

void vvm_flags_format(uint32_t flags, GString *out)
{
	bool first = true;

	/* The table's first six entries are the canonical names, in order. */
	for (size_t i = 0; i < 6; i++) {
		if ((flags & flag_names[i].flag) == 0)
			continue;
		if (!first)
			g_string_append_c(out, ' ');
		g_string_append(out, flag_names[i].name);
		first = false;
	}
}
