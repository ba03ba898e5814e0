/* Dates are validated to the day (no 31-Apr), since SEARCH compares them
 * and APPEND stores them as INTERNALDATE. The calendar arithmetic is the
 * proleptic Gregorian one, so no time zone database is involved. */
#include <errno.h>
#include <stdbool.h>
#include <glib.h>

#include "imap-date.h"

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static const unsigned short days_before_month[12] = {
	0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334,
};

static bool is_leap(unsigned int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static unsigned int month_days(unsigned int year, unsigned int month)
{
	static const unsigned char days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};

	return days[month - 1] + (month == 2 && is_leap(year) ? 1 : 0);
}

/* Reads exactly n digits at *p into *num_r and moves *p past them. */
static bool digits(const char **p, unsigned int n, unsigned int *num_r)
{
	unsigned int num = 0;

	for (unsigned int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		num = num * 10 + (unsigned int)(c - '0');
	}
	*p += n;
	*num_r = num;
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* day "-" month "-" year, the day being 1 or 2 digits; *p moves past it. */
static int parse_date_text(const char **p, struct imap_date *date_r)
{
	const char *s = *p;
	struct imap_date date;
	unsigned int i;

	if (!digits(&s, is_digit(s[0]) && is_digit(s[1]) ? 2 : 1, &date.day))
		return -EINVAL;
	if (*s++ != '-')
		return -EINVAL;
	for (i = 0; i < G_N_ELEMENTS(months); i++) {
		if (g_ascii_strncasecmp(s, months[i], 3) == 0)
			break;
	}
	if (i == G_N_ELEMENTS(months))
		return -EINVAL;
	date.month = i + 1;
	s += 3;
	if (*s++ != '-' || !digits(&s, 4, &date.year))
		return -EINVAL;
	if (date.day == 0 || date.day > month_days(date.year, date.month))
		return -EINVAL;
	*p = s;
	*date_r = date;
	return 0;
}

int imap_date_parse(const char *str, struct imap_date *date_r)
{
	struct imap_date date;

	if (parse_date_text(&str, &date) < 0 || *str != '\0')
		return -EINVAL;
	*date_r = date;
	return 0;
}

/* Days from 0001-01-01 to January 1st of year, for year >= 1. */
static int64_t days_to_year(int64_t year)
{
	year--;
	return year * 365 + year / 4 - year / 100 + year / 400;
}

int64_t imap_date_to_unix(const struct imap_date *date)
{
	/* The calendar repeats every 400 years; shifting by one cycle keeps
	 * year 0000 within days_to_year()'s range. */
	int64_t days = days_to_year((int64_t)date->year + 400) -
		       days_to_year(1970 + 400);

	days += days_before_month[date->month - 1] + date->day - 1;
	if (date->month > 2 && is_leap(date->year))
		days++;
	return days * 86400;
}

int imap_datetime_parse(const char *str, int64_t *time_r, int *zone_minutes_r)
{
	struct imap_date date;
	unsigned int hh, mm, ss, zh, zm;
	int zone;
	char sign;

	if (str[0] == ' ')
		str++;
	if (parse_date_text(&str, &date) < 0 || *str++ != ' ')
		return -EINVAL;
	if (!digits(&str, 2, &hh) || *str++ != ':' || !digits(&str, 2, &mm) ||
	    *str++ != ':' || !digits(&str, 2, &ss) || *str++ != ' ')
		return -EINVAL;
	sign = *str++;
	if ((sign != '+' && sign != '-') || !digits(&str, 2, &zh) ||
	    !digits(&str, 2, &zm) || *str != '\0')
		return -EINVAL;
	/* ss may be 60, a leap second. */
	if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
		return -EINVAL;
	zone = (int)(zh * 60 + zm) * (sign == '-' ? -1 : 1);
	*time_r = imap_date_to_unix(&date) + hh * 3600 + mm * 60 + ss -
		  (int64_t)zone * 60;
	*zone_minutes_r = zone;
	return 0;
}
