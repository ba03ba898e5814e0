/* RFC 3501 dates: "date" for SEARCH (1-Feb-2024) and "date-time" for
 * APPEND and INTERNALDATE ("01-Feb-2024 13:05:09 +0100"). */
#ifndef VVM_IMAP_DATE_H
#define VVM_IMAP_DATE_H

#include <stdint.h>

struct imap_date {
	unsigned int year;   /* 0..9999 */
	unsigned int month;  /* 1..12 */
	unsigned int day;    /* 1..31, valid for the month */
};

/* Parses date-text, day-month-year without quotes (the parser has already
 * removed them from a quoted date). Month names in any case; the day has
 * one or two digits and must exist in that month. Returns 0 and sets
 * *date_r, or -EINVAL. */
int imap_date_parse(const char *str, struct imap_date *date_r);

/* Returns the Unix time of 00:00:00 UTC on date. */
int64_t imap_date_to_unix(const struct imap_date *date);

/* Parses a date-time without its quotes: "dd-Mon-yyyy hh:mm:ss +hhmm",
 * where the day is two digits or SP and one digit (one digit alone is
 * accepted too). Returns 0 and sets *time_r to the Unix time and
 * *zone_minutes_r to the zone's offset east of UTC, or -EINVAL. */
int imap_datetime_parse(const char *str, int64_t *time_r, int *zone_minutes_r);

#endif
