/* The GSM 7-bit default alphabet (3GPP TS 23.038), unpacked: one septet
 * per octet, as SMPP carries text with data_coding 0. Most of ASCII is
 * the same code; @ $ _ move, [ ] { } \ ^ | ~ need the escape, and ` is
 * not there at all. */
#include "sms-private.h"

#include <string.h>

#define ESC 0x1b

/* The basic table, as Unicode code points. */
static const gunichar basic[128] = {
	'@', 0xa3, '$', 0xa5, 0xe8, 0xe9, 0xf9, 0xec,
	0xf2, 0xc7, '\n', 0xd8, 0xf8, '\r', 0xc5, 0xe5,
	0x394, '_', 0x3a6, 0x393, 0x39b, 0x3a9, 0x3a0, 0x3a8,
	0x3a3, 0x398, 0x39e, 0xa0 /* ESC: a space if it ends the text */,
	0xc6, 0xe6, 0xdf, 0xc9,
	' ', '!', '"', '#', 0xa4, '%', '&', '\'',
	'(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7',
	'8', '9', ':', ';', '<', '=', '>', '?',
	0xa1, 'A', 'B', 'C', 'D', 'E', 'F', 'G',
	'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W',
	'X', 'Y', 'Z', 0xc4, 0xd6, 0xd1, 0xdc, 0xa7,
	0xbf, 'a', 'b', 'c', 'd', 'e', 'f', 'g',
	'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w',
	'x', 'y', 'z', 0xe4, 0xf6, 0xf1, 0xfc, 0xe0,
};

/* The extension table: escape, then one of these. */
static const struct {
	uint8_t code;
	gunichar ch;
} extension[] = {
	{ 0x0a, '\f' }, { 0x14, '^' }, { 0x28, '{' }, { 0x29, '}' },
	{ 0x2f, '\\' }, { 0x3c, '[' }, { 0x3d, '~' }, { 0x3e, ']' },
	{ 0x40, '|' }, { 0x65, 0x20ac },
};

/* The septets of one ASCII character: 1 or 2, written to out. */
static size_t encode_char(char c, uint8_t out[2])
{
	for (size_t i = 0; i < G_N_ELEMENTS(extension); i++) {
		if (extension[i].ch == (gunichar)(unsigned char)c) {
			out[0] = ESC;
			out[1] = extension[i].code;
			return 2;
		}
	}
	for (size_t i = 0; i < G_N_ELEMENTS(basic); i++) {
		if (basic[i] == (gunichar)(unsigned char)c && i != ESC) {
			out[0] = (uint8_t)i;
			return 1;
		}
	}
	out[0] = '?';
	return 1;
}

size_t vvm_sms_gsm7_length(const char *ascii, size_t len)
{
	uint8_t septets[2];
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += encode_char(ascii[i], septets);
	return n;
}

void vvm_sms_gsm7_encode(const char *ascii, size_t len, GByteArray *out)
{
	uint8_t septets[2];

	for (size_t i = 0; i < len; i++)
		g_byte_array_append(out, septets, (guint)encode_char(ascii[i],
								    septets));
}

char *vvm_sms_gsm7_decode(const uint8_t *septets, size_t len, size_t *len_r)
{
	GString *out = g_string_sized_new(len + 1);

	for (size_t i = 0; i < len; i++) {
		gunichar ch = basic[septets[i] & 0x7f];

		if ((septets[i] & 0x7f) == ESC && i + 1 < len) {
			/* An unknown extension reads as its basic character. */
			ch = basic[septets[++i] & 0x7f];
			for (size_t e = 0; e < G_N_ELEMENTS(extension); e++) {
				if (extension[e].code == (septets[i] & 0x7f))
					ch = extension[e].ch;
			}
		}
		g_string_append_unichar(out, ch);
	}
	*len_r = out->len;
	return g_string_free(out, FALSE);
}
