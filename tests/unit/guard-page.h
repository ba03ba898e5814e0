/* Parser inputs placed to end exactly where an unmapped page begins, so
 * that reading one byte too far crashes (picohttpparser's tests do this).
 * Header-only, for test programs. */
#ifndef VVM_TEST_GUARD_PAGE_H
#define VVM_TEST_GUARD_PAGE_H

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>

static char *guard_map;
static size_t guard_room;   /* readable bytes before the unmapped page */

/* Maps pages readable pages followed by an unmapped one; once per
 * program. */
static inline void guard_init(size_t pages)
{
	size_t page_size = (size_t)sysconf(_SC_PAGESIZE);

	guard_room = page_size * pages;
	guard_map = mmap(NULL, guard_room + page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g_assert_true(guard_map != MAP_FAILED);
	g_assert_cmpint(mprotect(guard_map + guard_room, page_size,
				 PROT_NONE), ==, 0);
}

/* Copies len bytes (at most guard_room) to end at the unmapped page and
 * returns where they start. */
static inline char *guard_place(const void *data, size_t len)
{
	g_assert_cmpuint(len, <=, guard_room);
	memcpy(guard_map + guard_room - len, data, len);
	return guard_map + guard_room - len;
}

#endif
