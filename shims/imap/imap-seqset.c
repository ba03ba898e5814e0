/* Sequence sets: parsing, then resolving "*" and merging, so that a FETCH
 * or SEARCH walks each message once however the client wrote the set. */
#include <errno.h>

#include "imap-seqset.h"

/* Parses one seq-number at *p and moves *p past it. */
static int parse_seq_number(const char **p, uint32_t *num_r)
{
	const char *s = *p;
	uint64_t num = 0;

	if (*s == '*') {
		*p = s + 1;
		*num_r = IMAP_SEQ_STAR;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		num = num * 10 + (uint64_t)(*s - '0');
		if (num > UINT32_MAX)
			return -EINVAL;
	}
	*p = s;
	*num_r = (uint32_t)num;
	return 0;
}

int imap_seqset_parse(const char *str, GArray **ranges_r)
{
	GArray *ranges = g_array_new(FALSE, FALSE,
				     sizeof(struct imap_seq_range));
	const char *p = str;

	for (;;) {
		struct imap_seq_range range;

		if (parse_seq_number(&p, &range.first) < 0)
			break;
		range.last = range.first;
		if (*p == ':') {
			p++;
			if (parse_seq_number(&p, &range.last) < 0)
				break;
		}
		g_array_append_val(ranges, range);
		if (*p == '\0') {
			*ranges_r = ranges;
			return 0;
		}
		if (*p != ',')
			break;
		p++;
	}
	g_array_free(ranges, TRUE);
	return -EINVAL;
}

static gint range_cmp(gconstpointer a, gconstpointer b)
{
	const struct imap_seq_range *ra = a, *rb = b;

	if (ra->first != rb->first)
		return ra->first < rb->first ? -1 : 1;
	return 0;
}

void imap_seqset_normalize(GArray *ranges, uint32_t star)
{
	struct imap_seq_range *r = (struct imap_seq_range *)ranges->data;
	guint out = 0;

	for (guint i = 0; i < ranges->len; i++) {
		if (r[i].first == IMAP_SEQ_STAR)
			r[i].first = star;
		if (r[i].last == IMAP_SEQ_STAR)
			r[i].last = star;
		if (r[i].first > r[i].last) {
			uint32_t tmp = r[i].first;

			r[i].first = r[i].last;
			r[i].last = tmp;
		}
	}
	g_array_sort(ranges, range_cmp);
	for (guint i = 0; i < ranges->len; i++) {
		/* Adjacent ranges merge too: 1:3,4:6 is 1:6. */
		if (out > 0 && (uint64_t)r[out - 1].last + 1 >= r[i].first) {
			if (r[i].last > r[out - 1].last)
				r[out - 1].last = r[i].last;
			continue;
		}
		r[out++] = r[i];
	}
	g_array_set_size(ranges, out);
}

bool imap_seqset_contains(const GArray *ranges, uint32_t num)
{
	const struct imap_seq_range *r =
		(const struct imap_seq_range *)ranges->data;
	guint lo = 0, hi = ranges->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;

		if (num < r[mid].first)
			hi = mid;
		else if (num > r[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}
