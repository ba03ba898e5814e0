/* The annex's encryption of mobile-terminated messages, DESede/ECB/
 * PKCS5Padding, and the random secrets the server hands out by SMS.
 *
 * ECB and 3DES are weak; the annex chose them so that any phone can
 * decrypt without an IV, and the point is only that the IMAP credentials
 * do not sit readable in the phone's inbox. */
#include "sms-private.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

G_STATIC_ASSERT(VVM_SMS_CRYPT_MAX < INT_MAX - 8);

/* OpenSSL's default PKCS#7 padding is PKCS#5 for 8-octet blocks. */
static int des3(const uint8_t *key, bool encrypt, const uint8_t *in,
		size_t len, GByteArray *out)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t *buf;
	int n = 0, fin = 0, ret = -EIO;

	if (len > VVM_SMS_CRYPT_MAX)
		return -EINVAL;
	if (!encrypt && (len == 0 || len % 8 != 0))
		return -EINVAL;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;
	buf = g_malloc(len + 8);
	if (EVP_CipherInit_ex(ctx, EVP_des_ede3_ecb(), NULL, key, NULL,
			      encrypt ? 1 : 0) != 1)
		goto out;
	if (len > 0 && EVP_CipherUpdate(ctx, buf, &n, in, (int)len) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, buf + n, &fin) != 1) {
		/* Decryption fails here when the padding is wrong, which
		 * is how a wrong key usually shows. */
		ret = encrypt ? -EIO : -EBADMSG;
		goto out;
	}
	g_byte_array_append(out, buf, (guint)(n + fin));
	ret = 0;
out:
	if (ret < 0)
		ERR_clear_error();
	/* The buffer held a password in one direction or the other. */
	OPENSSL_cleanse(buf, len + 8);
	g_free(buf);
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

int vvm_sms_des3_encrypt(const uint8_t *key, const uint8_t *in, size_t len,
			 GByteArray *out)
{
	return des3(key, true, in, len, out);
}

int vvm_sms_des3_decrypt(const uint8_t *key, const uint8_t *in, size_t len,
			 GByteArray *out)
{
	return des3(key, false, in, len, out);
}

/* The annex: "The first byte of the shortMessage contains the length of
 * the remaining UDH". */
static int sm_crypt(const uint8_t *key, bool encrypt, bool udhi,
		    const uint8_t *sm, size_t len, GByteArray *out)
{
	guint old_len = out->len;
	size_t udh = 0;
	int ret;

	if (udhi) {
		if (len == 0 || (size_t)sm[0] + 1 > len)
			return -EINVAL;
		udh = (size_t)sm[0] + 1;
		g_byte_array_append(out, sm, (guint)udh);
	}
	ret = des3(key, encrypt, sm + udh, len - udh, out);
	if (ret < 0)
		g_byte_array_set_size(out, old_len);
	return ret;
}

int vvm_sms_sm_encrypt(const uint8_t *key, bool udhi, const uint8_t *sm,
		       size_t len, GByteArray *out)
{
	return sm_crypt(key, true, udhi, sm, len, out);
}

int vvm_sms_sm_decrypt(const uint8_t *key, bool udhi, const uint8_t *sm,
		       size_t len, GByteArray *out)
{
	return sm_crypt(key, false, udhi, sm, len, out);
}

int vvm_sms_random_string(enum vvm_sms_charset charset, char *buf,
			  size_t size, size_t len)
{
	static const char alnum[] = "0123456789"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz";
	size_t n = charset == VVM_SMS_CHARSET_DIGITS ? 10 : 62;
	/* Octets at or above limit are drawn again, so that every
	 * character is equally likely. */
	unsigned limit = 256 - 256 % n;
	uint8_t rnd[64];
	char tmp[VVM_SMS_RANDOM_MAX + 1];
	size_t have = 0, pos = 0, i = 0;

	if ((charset != VVM_SMS_CHARSET_ALNUM &&
	     charset != VVM_SMS_CHARSET_DIGITS) ||
	    len == 0 || len > VVM_SMS_RANDOM_MAX || size < len + 1)
		return -EINVAL;
	while (i < len) {
		if (pos == have) {
			if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
				ERR_clear_error();
				OPENSSL_cleanse(tmp, sizeof(tmp));
				return -EIO;
			}
			have = sizeof(rnd);
			pos = 0;
		}
		if (rnd[pos] < limit)
			tmp[i++] = alnum[rnd[pos] % n];
		pos++;
	}
	tmp[len] = '\0';
	memcpy(buf, tmp, len + 1);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return 0;
}
