/* vvm-sasl against libsasl2's real client, in-process: every mechanism we
 * offer, the failure classes the IMAP layer answers with, and a DIGEST-MD5
 * exchange computed here from RFC 2831 with GChecksum, as the Python test
 * client will. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sasl/sasl.h>

#include "vvm-sasl.h"

#define FQDN "vvm.example.net"
#define ALL_MECHS "DIGEST-MD5 CRAM-MD5 PLAIN LOGIN SCRAM-SHA-256"
#define ALICE_PASSWORD "Secr3t pin-1234"
/* put in a config file libsasl2 must not read */
#define CONF_ITERATIONS "1234"

/* ---- the subscriber directory behind the lookup ---- */

struct directory {
	int calls;
	char *last_user;
	bool realm_seen;
};

static int directory_lookup(void *context, const char *user, const char *realm,
			    char **password_r)
{
	struct directory *dir = context;

	dir->calls++;
	g_free(dir->last_user);
	dir->last_user = g_strdup(user);
	if (realm != NULL)
		dir->realm_seen = true;
	if (strcmp(user, "alice") == 0) {
		*password_r = g_strdup(ALICE_PASSWORD);
		return 0;
	}
	if (strcmp(user, "nopass") == 0) {
		*password_r = g_strdup("");
		return 0;
	}
	if (strcmp(user, "broken") == 0)
		return -EIO;
	return -ENOENT;
}

static void directory_clear(struct directory *dir)
{
	g_clear_pointer(&dir->last_user, g_free);
}

static struct vvm_sasl *server_new(const char *mechs, unsigned int ssf,
				   struct directory *dir)
{
	int error = 0;
	struct vvm_sasl *sasl = vvm_sasl_create(FQDN, mechs, ssf,
						directory_lookup, dir, &error);

	g_assert_nonnull(sasl);
	g_assert_cmpint(error, ==, 0);
	return sasl;
}

/* ---- libsasl2's client ---- */

struct client {
	sasl_conn_t *conn;
	const char *authcid;
	const char *authzid;
	sasl_secret_t *secret;
	sasl_callback_t callbacks[4];
};

static int client_simple(void *context, int id, const char **result,
			 unsigned *len)
{
	struct client *client = context;

	if (id == SASL_CB_AUTHNAME)
		*result = client->authcid;
	else if (id == SASL_CB_USER)
		*result = client->authzid;
	else
		return SASL_BADPARAM;
	if (len != NULL)
		*len = strlen(*result);
	return SASL_OK;
}

static int client_pass(sasl_conn_t *conn, void *context, int id,
		       sasl_secret_t **secret_r)
{
	struct client *client = context;

	*secret_r = client->secret;
	return SASL_OK;
}

static int log_discard(void *context, int level, const char *message)
{
	return SASL_OK;
}

static int client_getpath(void *context, const char **path)
{
	*path = VVM_SASL_PLUGIN_DIR;
	return SASL_OK;
}

#define CB(fn) ((int (*)(void))(void (*)(void))(fn))

static const sasl_callback_t client_global_callbacks[] = {
	{ SASL_CB_LOG, CB(log_discard), NULL },
	/* the test sets SASL_PATH to nowhere to prove the server ignores it;
	 * the client must still find its plugins */
	{ SASL_CB_GETPATH, CB(client_getpath), NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

static struct client *client_new(const char *authcid, const char *authzid,
				 const char *password)
{
	struct client *client = g_new0(struct client, 1);
	sasl_security_properties_t secprops = { .max_ssf = 0, .maxbufsize = 0 };
	size_t len = strlen(password);

	client->authcid = authcid;
	client->authzid = authzid;
	client->secret = g_malloc0(sizeof(*client->secret) + len);
	client->secret->len = len;
	memcpy(client->secret->data, password, len);
	client->callbacks[0] = (sasl_callback_t){ SASL_CB_AUTHNAME,
						  CB(client_simple), client };
	client->callbacks[1] =
		(sasl_callback_t){ SASL_CB_USER, CB(client_simple), client };
	client->callbacks[2] =
		(sasl_callback_t){ SASL_CB_PASS, CB(client_pass), client };
	client->callbacks[3] =
		(sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
	g_assert_cmpint(sasl_client_new("imap", FQDN, NULL, NULL,
					client->callbacks, 0, &client->conn),
			==, SASL_OK);
	g_assert_cmpint(sasl_setprop(client->conn, SASL_SEC_PROPS, &secprops),
			==, SASL_OK);
	return client;
}

static void client_free(struct client *client)
{
	sasl_dispose(&client->conn);
	g_free(client->secret);
	g_free(client);
}

struct run {
	enum vvm_sasl_result result;
	bool final_data; /* the server sent data with its success */
	int steps;
};

/* Runs a whole exchange as an IMAP client would: the initial response only
 * if ir, every challenge answered, final server data acknowledged with an
 * empty response after the client checked it (rspauth, v=). */
static struct run exchange(struct vvm_sasl *server, struct client *client,
			   const char *mech, bool ir)
{
	struct run run = { 0 };
	const char *cout = NULL;
	unsigned cout_len = 0;
	const char *chosen = NULL;
	const void *sout = NULL;
	size_t sout_len = 0;
	int ret;

	ret = sasl_client_start(client->conn, mech, NULL, ir ? &cout : NULL,
				ir ? &cout_len : NULL, &chosen);
	g_assert_true(ret == SASL_OK || ret == SASL_CONTINUE);
	g_assert_cmpstr(chosen, ==, mech);
	run.result =
		vvm_sasl_start(server, mech, cout, cout_len, &sout, &sout_len);
	while (run.result == VVM_SASL_CONTINUE) {
		g_assert_nonnull(sout);
		g_assert_cmpint(++run.steps, <, 10);
		ret = sasl_client_step(client->conn, sout, sout_len, NULL,
				       &cout, &cout_len);
		g_assert_true(ret == SASL_OK || ret == SASL_CONTINUE);
		run.result =
			vvm_sasl_step(server, cout, cout_len, &sout, &sout_len);
	}
	if (run.result == VVM_SASL_OK && sout != NULL) {
		run.final_data = true;
		g_assert_cmpuint(sout_len, >, 0);
		g_assert_null(vvm_sasl_user(server));
		/* libsasl2's client verifies the server's proof here */
		ret = sasl_client_step(client->conn, sout, sout_len, NULL,
				       &cout, &cout_len);
		g_assert_cmpint(ret, ==, SASL_OK);
		g_assert_cmpuint(cout_len, ==, 0);
		g_assert_cmpint(vvm_sasl_finish(server, "", 0), ==, 0);
	}
	return run;
}

/* ---- per mechanism ---- */

struct mech_case {
	const char *mech;
	bool final_data;   /* server proves itself at the end */
	bool has_authzid;  /* the mechanism carries an authzid */
	bool client_first; /* takes an initial response */
};

static const struct mech_case mech_cases[] = {
	{ "DIGEST-MD5", true, true, false },
	{ "CRAM-MD5", false, false, false },
	{ "PLAIN", false, true, true },
	{ "LOGIN", false, false, true },
	{ "SCRAM-SHA-256", true, true, true },
};

static struct run run_case(const struct mech_case *mc, const char *authcid,
			   const char *authzid, const char *password, bool ir,
			   struct directory *dir, struct vvm_sasl **server_r)
{
	struct vvm_sasl *server = server_new(ALL_MECHS, 256, dir);
	struct client *client = client_new(authcid, authzid, password);
	struct run run;

	g_assert_true(vvm_sasl_offers(server, mc->mech));
	run = exchange(server, client, mc->mech, ir);
	client_free(client);
	*server_r = server;
	return run;
}

static void test_success(gconstpointer data)
{
	const struct mech_case *mc = data;

	for (int ir = 0; ir <= 1; ir++) {
		struct directory dir = { 0 };
		struct vvm_sasl *server;
		struct run run = run_case(mc, "alice", "", ALICE_PASSWORD, ir,
					  &dir, &server);

		g_assert_cmpint(run.result, ==, VVM_SASL_OK);
		g_assert_cmpint(run.final_data, ==, mc->final_data);
		g_assert_cmpstr(vvm_sasl_user(server), ==, "alice");
		g_assert_cmpstr(vvm_sasl_mech(server), ==, mc->mech);
		/* the lookup saw exactly the authcid, no realm */
		g_assert_cmpint(dir.calls, >=, 1);
		g_assert_cmpstr(dir.last_user, ==, "alice");
		g_assert_false(dir.realm_seen);
		/* a second AUTHENTICATE is refused but keeps the login */
		g_assert_cmpint(
			vvm_sasl_start(server, mc->mech, NULL, 0, NULL, NULL),
			==, VVM_SASL_FAILED);
		g_assert_cmpstr(vvm_sasl_user(server), ==, "alice");
		vvm_sasl_destroy(&server);
		g_assert_null(server);
		directory_clear(&dir);
	}
}

static void check_failure(const struct mech_case *mc, const char *authcid,
			  const char *authzid, const char *password,
			  enum vvm_sasl_failure expected)
{
	struct directory dir = { 0 };
	struct vvm_sasl *server;
	struct run run =
		run_case(mc, authcid, authzid, password, true, &dir, &server);

	g_assert_cmpint(run.result, ==, VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, expected);
	g_assert_null(vvm_sasl_user(server));
	vvm_sasl_destroy(&server);
	directory_clear(&dir);
}

static void test_bad_password(gconstpointer data)
{
	check_failure(data, "alice", "", "Secr3t pin-1235",
		      VVM_SASL_BAD_PASSWORD);
	/* a user whose profile has no password can never log in, not even
	 * with an empty one */
	check_failure(data, "nopass", "", "x", VVM_SASL_BAD_PASSWORD);
}

static void test_unknown_user(gconstpointer data)
{
	struct directory dir = { 0 };
	struct vvm_sasl *server;
	struct run run;

	check_failure(data, "mallory", "", ALICE_PASSWORD,
		      VVM_SASL_UNKNOWN_USER);
	/* '@' is refused without asking the directory */
	run = run_case(data, "alice@" FQDN, "", ALICE_PASSWORD, true, &dir,
		       &server);
	g_assert_cmpint(run.result, ==, VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_UNKNOWN_USER);
	g_assert_cmpint(dir.calls, ==, 0);
	vvm_sasl_destroy(&server);
}

static void test_system(gconstpointer data)
{
	check_failure(data, "broken", "", ALICE_PASSWORD, VVM_SASL_SYSTEM);
}

static void test_authzid(gconstpointer data)
{
	const struct mech_case *mc = data;
	struct directory dir = { 0 };
	struct vvm_sasl *server;
	struct run run;

	check_failure(mc, "alice", "bob", ALICE_PASSWORD,
		      VVM_SASL_NOT_AUTHORIZED);
	/* the wrong password is what the client hears first */
	check_failure(mc, "alice", "bob", "wrong", VVM_SASL_BAD_PASSWORD);
	/* naming oneself is not proxying */
	run = run_case(mc, "alice", "alice", ALICE_PASSWORD, true, &dir,
		       &server);
	g_assert_cmpint(run.result, ==, VVM_SASL_OK);
	g_assert_cmpstr(vvm_sasl_user(server), ==, "alice");
	vvm_sasl_destroy(&server);
	directory_clear(&dir);
}

/* Answers every challenge with the same malformed data (LOGIN takes any
 * user name, so its junk is judged at the password step). */
static enum vvm_sasl_result feed_garbage(struct vvm_sasl *server,
					 const char *mech, bool as_ir,
					 const void *junk, size_t junk_len)
{
	const void *out;
	size_t out_len;
	enum vvm_sasl_result result;

	if (as_ir) {
		result = vvm_sasl_start(server, mech, junk, junk_len, &out,
					&out_len);
	} else {
		result = vvm_sasl_start(server, mech, NULL, 0, &out, &out_len);
		g_assert_cmpint(result, ==, VVM_SASL_CONTINUE);
	}
	for (int step = 0; result == VVM_SASL_CONTINUE; step++) {
		g_assert_cmpint(step, <, 3);
		result = vvm_sasl_step(server, junk, junk_len, &out, &out_len);
	}
	return result;
}

static void test_garbage(gconstpointer data)
{
	const struct mech_case *mc = data;
	/* per mechanism, answers that must be refused before any user is
	 * looked up */
	static const struct {
		const char *mech;
		const char *junk;
		size_t len;
	} malformed[] = {
		{ "DIGEST-MD5", "garbage", 7 },
		{ "DIGEST-MD5", "username=\"alice\"", 16 },
		{ "DIGEST-MD5", "username=\"alice,realm=\"\"\"\"", 26 },
		{ "DIGEST-MD5", "\0\xff\x01", 3 },
		{ "CRAM-MD5", "alice", 5 },
		{ "CRAM-MD5", "", 0 },
		{ "PLAIN", "\0alice", 6 },
		{ "PLAIN", "", 0 },
		{ "PLAIN", "\xff\xfe\xfd", 3 },
		{ "LOGIN", "", 0 },
		{ "LOGIN", "   ", 3 },
		{ "SCRAM-SHA-256", "x,,n=alice,r=abc", 16 },
		{ "SCRAM-SHA-256", "n,,", 3 },
		{ "SCRAM-SHA-256", "\0\0\0", 3 },
		{ "SCRAM-SHA-256", "", 0 },
	};
	GRand *rand = g_rand_new_with_seed(2831);
	char *big = g_malloc(VVM_SASL_MAX_INPUT + 1);

	for (size_t i = 0; i < G_N_ELEMENTS(malformed); i++) {
		struct directory dir = { 0 };
		struct vvm_sasl *server;

		if (strcmp(malformed[i].mech, mc->mech) != 0)
			continue;
		server = server_new(ALL_MECHS, 256, &dir);
		g_assert_cmpint(feed_garbage(server, mc->mech, false,
					     malformed[i].junk,
					     malformed[i].len),
				==, VVM_SASL_FAILED);
		g_assert_cmpint(vvm_sasl_failure(server), ==,
				VVM_SASL_BAD_PROTOCOL);
		g_assert_cmpint(dir.calls, ==, 0);
		vvm_sasl_destroy(&server);
	}

	/* longer than any mechanism needs */
	memset(big, 'a', VVM_SASL_MAX_INPUT + 1);
	for (int ir = 0; ir <= (mc->client_first ? 1 : 0); ir++) {
		struct directory dir = { 0 };
		struct vvm_sasl *server = server_new(ALL_MECHS, 256, &dir);

		g_assert_cmpint(feed_garbage(server, mc->mech, ir, big,
					     VVM_SASL_MAX_INPUT + 1),
				==, VVM_SASL_FAILED);
		g_assert_cmpint(vvm_sasl_failure(server), ==,
				VVM_SASL_BAD_PROTOCOL);
		vvm_sasl_destroy(&server);
	}

	/* random bytes at every step until the server gives up: never a
	 * login, never a crash, no odd name reaches the directory */
	for (int round = 0; round < 200; round++) {
		struct directory dir = { 0 };
		struct vvm_sasl *server = server_new(ALL_MECHS, 256, &dir);
		const void *out;
		size_t out_len;
		enum vvm_sasl_result result;
		size_t len = g_rand_int_range(rand, 0, 300);
		bool ir = mc->client_first && g_rand_boolean(rand);

		for (size_t j = 0; j < len; j++)
			big[j] = (char)g_rand_int_range(rand, 0, 256);
		result = vvm_sasl_start(server, mc->mech, ir ? big : NULL,
					ir ? len : 0, &out, &out_len);
		for (int step = 0; result == VVM_SASL_CONTINUE; step++) {
			g_assert_cmpint(step, <, 5);
			len = g_rand_int_range(rand, 0, 300);
			for (size_t j = 0; j < len; j++)
				big[j] = (char)g_rand_int_range(rand, 0, 256);
			result =
				vvm_sasl_step(server, big, len, &out, &out_len);
		}
		g_assert_cmpint(result, ==, VVM_SASL_FAILED);
		g_assert_true(
			vvm_sasl_failure(server) == VVM_SASL_BAD_PROTOCOL ||
			vvm_sasl_failure(server) == VVM_SASL_UNKNOWN_USER);
		if (dir.last_user != NULL)
			g_assert_null(strchr(dir.last_user, '@'));
		vvm_sasl_destroy(&server);
		directory_clear(&dir);
	}
	g_free(big);
	g_rand_free(rand);
}

/* ---- DIGEST-MD5 by hand (RFC 2831 section 2.1.2.1) ---- */

/* The value of name="..." or name=token in a challenge. */
static char *digest_param(const char *challenge, const char *name)
{
	g_autofree char *key = g_strdup_printf("%s=", name);
	const char *p = strstr(challenge, key);
	size_t n;

	if (p == NULL)
		return NULL;
	p += strlen(key);
	if (*p == '"') {
		p++;
		n = strcspn(p, "\"");
	} else {
		n = strcspn(p, ",");
	}
	return g_strndup(p, n);
}

static void md5_raw(const void *data, size_t len, guint8 out[16])
{
	GChecksum *md5 = g_checksum_new(G_CHECKSUM_MD5);
	gsize out_len = 16;

	g_checksum_update(md5, data, len);
	g_checksum_get_digest(md5, out, &out_len);
	g_checksum_free(md5);
}

static char *md5_hex(const char *text)
{
	return g_compute_checksum_for_string(G_CHECKSUM_MD5, text, -1);
}

/* response-value (a2_prefix "AUTHENTICATE") or rspauth (a2_prefix ""). */
static char *digest_value(const char *user, const char *realm,
			  const char *password, const char *nonce,
			  const char *cnonce, const char *digest_uri,
			  const char *a2_prefix)
{
	g_autofree char *urp =
		g_strdup_printf("%s:%s:%s", user, realm, password);
	g_autofree char *a2 = g_strdup_printf("%s:%s", a2_prefix, digest_uri);
	g_autofree char *ha1 = NULL;
	g_autofree char *ha2 = md5_hex(a2);
	g_autofree char *kd = NULL;
	GByteArray *a1 = g_byte_array_new();
	guint8 h_urp[16];

	/* A1 = { H( { username-value, ":", realm-value, ":", passwd } ),
	 *        ":", nonce-value, ":", cnonce-value } -- H raw, not hex */
	md5_raw(urp, strlen(urp), h_urp);
	g_byte_array_append(a1, h_urp, sizeof(h_urp));
	g_byte_array_append(a1, (const guint8 *)":", 1);
	g_byte_array_append(a1, (const guint8 *)nonce, strlen(nonce));
	g_byte_array_append(a1, (const guint8 *)":", 1);
	g_byte_array_append(a1, (const guint8 *)cnonce, strlen(cnonce));
	ha1 = g_compute_checksum_for_data(G_CHECKSUM_MD5, a1->data, a1->len);
	g_byte_array_free(a1, TRUE);
	/* KD(HEX(H(A1)), { nonce, ":", nc, ":", cnonce, ":", qop, ":",
	 *                  HEX(H(A2)) }) */
	kd = g_strdup_printf("%s:%s:00000001:%s:auth:%s", ha1, nonce, cnonce,
			     ha2);
	return md5_hex(kd);
}

/* realm NULL: the client leaves realm out, as some Android builds do. */
static enum vvm_sasl_result digest_by_hand(struct vvm_sasl *server,
					   const char *user, const char *realm,
					   const char *password,
					   char **rspauth_r,
					   char **expected_rspauth_r)
{
	const char *cnonce = "OA6MHXh6VqTrRk";
	const char *uri = "imap/" FQDN;
	const void *out = NULL;
	size_t out_len = 0;
	g_autofree char *challenge = NULL;
	g_autofree char *nonce = NULL;
	g_autofree char *offered_realm = NULL;
	g_autofree char *qop = NULL;
	g_autofree char *response = NULL;
	g_autofree char *answer = NULL;
	enum vvm_sasl_result result;

	result = vvm_sasl_start(server, "digest-md5", NULL, 0, &out, &out_len);
	g_assert_cmpint(result, ==, VVM_SASL_CONTINUE);
	challenge = g_strndup(out, out_len);
	nonce = digest_param(challenge, "nonce");
	offered_realm = digest_param(challenge, "realm");
	qop = digest_param(challenge, "qop");
	g_assert_nonnull(nonce);
	g_assert_cmpstr(offered_realm, ==, FQDN);
	/* no security layer is offered: the shims could not honour one */
	g_assert_cmpstr(qop, ==, "auth");
	g_assert_nonnull(strstr(challenge, "algorithm=md5-sess"));

	response = digest_value(user, realm != NULL ? realm : "", password,
				nonce, cnonce, uri, "AUTHENTICATE");
	*expected_rspauth_r = digest_value(user, realm != NULL ? realm : "",
					   password, nonce, cnonce, uri, "");
	answer = g_strdup_printf("charset=utf-8,username=\"%s\",%s%s%s"
				 "nonce=\"%s\",nc=00000001,cnonce=\"%s\","
				 "digest-uri=\"%s\",maxbuf=65536,"
				 "response=%s,qop=auth",
				 user, realm != NULL ? "realm=\"" : "",
				 realm != NULL ? realm : "",
				 realm != NULL ? "\"," : "", nonce, cnonce, uri,
				 response);
	result = vvm_sasl_step(server, answer, strlen(answer), &out, &out_len);
	if (result == VVM_SASL_OK) {
		g_assert_nonnull(out);
		*rspauth_r = g_strndup(out, out_len);
	}
	return result;
}

static void test_digest_by_hand(void)
{
	const char *realms[] = { FQDN, NULL };

	for (size_t i = 0; i < G_N_ELEMENTS(realms); i++) {
		struct directory dir = { 0 };
		struct vvm_sasl *server = server_new("DIGEST-MD5", 0, &dir);
		g_autofree char *rspauth = NULL;
		g_autofree char *expected = NULL;
		g_autofree char *want = NULL;

		g_assert_cmpint(digest_by_hand(server, "alice", realms[i],
					       ALICE_PASSWORD, &rspauth,
					       &expected),
				==, VVM_SASL_OK);
		want = g_strdup_printf("rspauth=%s", expected);
		g_assert_cmpstr(rspauth, ==, want);
		g_assert_null(vvm_sasl_user(server));
		g_assert_cmpint(vvm_sasl_finish(server, "", 0), ==, 0);
		g_assert_cmpstr(vvm_sasl_user(server), ==, "alice");
		g_assert_cmpstr(dir.last_user, ==, "alice");
		vvm_sasl_destroy(&server);
		directory_clear(&dir);
	}
}

static void test_digest_by_hand_refused(void)
{
	struct directory dir = { 0 };
	struct vvm_sasl *server = server_new("DIGEST-MD5", 0, &dir);
	g_autofree char *expected = NULL;
	g_autofree char *expected2 = NULL;
	g_autofree char *expected3 = NULL;
	char *rspauth = NULL;

	g_assert_cmpint(digest_by_hand(server, "alice", FQDN, "wrong", &rspauth,
				       &expected),
			==, VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PASSWORD);
	/* a realm we did not offer is another domain's user */
	dir.calls = 0;
	g_assert_cmpint(digest_by_hand(server, "alice", "elsewhere.example",
				       ALICE_PASSWORD, &rspauth, &expected2),
			==, VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_UNKNOWN_USER);
	g_assert_cmpint(dir.calls, ==, 0);
	/* the final answer must be empty */
	g_assert_cmpint(digest_by_hand(server, "alice", FQDN, ALICE_PASSWORD,
				       &rspauth, &expected3),
			==, VVM_SASL_OK);
	g_free(rspauth);
	g_assert_cmpint(vvm_sasl_finish(server, "x", 1), ==, -EPROTO);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PROTOCOL);
	g_assert_null(vvm_sasl_user(server));
	vvm_sasl_destroy(&server);
	directory_clear(&dir);
}

/* A profile without a password must not let in a client that sends an
 * empty one. */
static void test_empty_password(void)
{
	struct directory dir = { 0 };
	struct vvm_sasl *server = server_new(ALL_MECHS, 256, &dir);
	g_autofree char *expected = NULL;
	char *rspauth = NULL;
	const void *out;
	size_t out_len;

	g_assert_cmpint(vvm_sasl_start(server, "PLAIN", "\0nopass\0", 8, &out,
				       &out_len),
			==, VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PASSWORD);
	g_assert_cmpstr(dir.last_user, ==, "nopass");

	g_assert_cmpint(
		vvm_sasl_start(server, "LOGIN", "nopass", 6, &out, &out_len),
		==, VVM_SASL_CONTINUE);
	g_assert_cmpint(vvm_sasl_step(server, "", 0, &out, &out_len), ==,
			VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PASSWORD);

	g_assert_cmpint(
		digest_by_hand(server, "nopass", FQDN, "", &rspauth, &expected),
		==, VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PASSWORD);
	g_assert_null(vvm_sasl_user(server));
	vvm_sasl_destroy(&server);
	directory_clear(&dir);
}

/* ---- the mechanism list ---- */

static void test_mech_list(void)
{
	const char plain[] = "\0alice\0" ALICE_PASSWORD;
	struct directory dir = { 0 };
	struct vvm_sasl *server;
	const void *out;
	size_t out_len;
	int error = 0;

	/* before TLS */
	server = server_new("digest-md5  cram-md5 DIGEST-MD5", 0, &dir);
	g_assert_cmpstr(vvm_sasl_mechs(server), ==, "DIGEST-MD5 CRAM-MD5");
	g_assert_true(vvm_sasl_offers(server, "Digest-MD5"));
	g_assert_false(vvm_sasl_offers(server, "PLAIN"));
	g_assert_false(vvm_sasl_offers(server, "SCRAM-SHA-256"));
	g_assert_cmpint(vvm_sasl_start(server, "PLAIN", plain,
				       sizeof(plain) - 1, &out, &out_len),
			==, VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PROTOCOL);
	g_assert_cmpint(dir.calls, ==, 0);
	vvm_sasl_destroy(&server);

	/* after TLS, in the order given */
	server = server_new("SCRAM-SHA-256 PLAIN LOGIN DIGEST-MD5", 256, &dir);
	g_assert_cmpstr(vvm_sasl_mechs(server), ==,
			"SCRAM-SHA-256 PLAIN LOGIN DIGEST-MD5");
	vvm_sasl_destroy(&server);

	/* mechanisms whose plugins we never load, or that need what we
	 * never give (EXTERNAL), are not offered even when asked for */
	server = server_new("NTLM ANONYMOUS EXTERNAL GSSAPI OTP SCRAM-SHA-1 "
			    "PLAIN",
			    256, &dir);
	g_assert_cmpstr(vvm_sasl_mechs(server), ==, "SCRAM-SHA-1 PLAIN");
	g_assert_false(vvm_sasl_offers(server, "ANONYMOUS"));
	g_assert_cmpint(
		vvm_sasl_start(server, "ANONYMOUS", "x", 1, &out, &out_len), ==,
		VVM_SASL_FAILED);
	vvm_sasl_destroy(&server);

	server = server_new("", 0, &dir);
	g_assert_cmpstr(vvm_sasl_mechs(server), ==, "");
	g_assert_false(vvm_sasl_offers(server, "PLAIN"));
	vvm_sasl_destroy(&server);

	g_assert_null(vvm_sasl_create(FQDN, "PLAIN DIGEST*MD5", 0,
				      directory_lookup, &dir, &error));
	g_assert_cmpint(error, ==, -EINVAL);
	error = 0;
	g_assert_null(vvm_sasl_create(FQDN, "A123456789012345678901", 0,
				      directory_lookup, &dir, &error));
	g_assert_cmpint(error, ==, -EINVAL);
	error = 0;
	g_assert_null(vvm_sasl_create(NULL, "PLAIN", 0, directory_lookup, &dir,
				      &error));
	g_assert_cmpint(error, ==, -EINVAL);
	g_assert_cmpint(dir.calls, ==, 0);

	vvm_sasl_destroy(&server);
	g_assert_null(server);
	vvm_sasl_destroy(NULL);
}

/* ---- exchange bookkeeping ---- */

static void test_initial_response(void)
{
	struct directory dir = { 0 };
	struct vvm_sasl *server = server_new(ALL_MECHS, 256, &dir);
	const char plain[] = "\0alice\0" ALICE_PASSWORD;
	const void *out = NULL;
	size_t out_len = 99;

	/* none: an empty challenge asks for it */
	g_assert_cmpint(
		vvm_sasl_start(server, "PLAIN", NULL, 0, &out, &out_len), ==,
		VVM_SASL_CONTINUE);
	g_assert_nonnull(out);
	g_assert_cmpuint(out_len, ==, 0);
	g_assert_cmpint(
		vvm_sasl_step(server, plain, sizeof(plain) - 1, &out, &out_len),
		==, VVM_SASL_OK);
	g_assert_null(out);
	g_assert_cmpstr(vvm_sasl_user(server), ==, "alice");
	vvm_sasl_destroy(&server);

	/* empty is not none */
	server = server_new(ALL_MECHS, 256, &dir);
	g_assert_cmpint(vvm_sasl_start(server, "PLAIN", "", 0, &out, &out_len),
			==, VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PROTOCOL);
	/* a server-first mechanism takes none */
	g_assert_cmpint(
		vvm_sasl_start(server, "CRAM-MD5", "x", 1, &out, &out_len), ==,
		VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PROTOCOL);
	/* except DIGEST-MD5, whose initial response is a "subsequent
	 * authentication" (RFC 2831 2.2); we keep no state for that, so the
	 * server answers with a fresh challenge */
	g_assert_cmpint(
		vvm_sasl_start(server, "DIGEST-MD5", "x", 1, &out, &out_len),
		==, VVM_SASL_CONTINUE);
	g_assert_nonnull(g_strstr_len(out, out_len, "nonce=\""));
	vvm_sasl_destroy(&server);
	directory_clear(&dir);
}

/* ---- vvm_sasl_run(): the whole exchange with base64 framing ---- */

struct script {
	const char *const *answers;  /* NULL ends: the connection is gone */
	int asked;
	char *last_challenge;
};

static char *scripted(void *context, const char *challenge)
{
	struct script *sc = context;
	const char *answer = sc->answers[sc->asked];

	sc->asked++;
	g_free(sc->last_challenge);
	sc->last_challenge = g_strdup(challenge);
	return g_strdup(answer);
}

static enum vvm_sasl_outcome run_plain(const char *initial,
				       const char *const *answers, int *asked)
{
	struct directory dir = { 0 };
	struct vvm_sasl *server = server_new(ALL_MECHS, 256, &dir);
	struct script sc = { .answers = answers };
	enum vvm_sasl_outcome got =
		vvm_sasl_run(server, "PLAIN", initial, scripted, &sc);

	if (got == VVM_SASL_AUTHENTICATED)
		g_assert_cmpstr(vvm_sasl_user(server), ==, "alice");
	*asked = sc.asked;
	g_free(sc.last_challenge);
	vvm_sasl_destroy(&server);
	directory_clear(&dir);
	return got;
}

static void test_run(void)
{
	g_autofree char *good = g_base64_encode(
		(const guchar *)"\0alice\0" ALICE_PASSWORD,
		sizeof("\0alice\0" ALICE_PASSWORD) - 1);
	g_autofree char *bad = g_base64_encode((const guchar *)"\0alice\0x", 8);
	const char *const none[] = { NULL };
	const char *const good_answer[] = { good, NULL };
	const char *const cancel[] = { "*", NULL };
	const char *const junk[] = { "a!b=", NULL };
	int asked;

	/* as an initial response, and after an empty challenge */
	g_assert_cmpint(run_plain(good, none, &asked), ==,
			VVM_SASL_AUTHENTICATED);
	g_assert_cmpint(asked, ==, 0);
	g_assert_cmpint(run_plain(NULL, good_answer, &asked), ==,
			VVM_SASL_AUTHENTICATED);
	g_assert_cmpint(asked, ==, 1);
	g_assert_cmpint(run_plain(bad, none, &asked), ==, VVM_SASL_REFUSED);
	/* "=" is an empty initial response, which PLAIN refuses */
	g_assert_cmpint(run_plain("=", none, &asked), ==, VVM_SASL_REFUSED);
	g_assert_cmpint(run_plain(NULL, cancel, &asked), ==,
			VVM_SASL_CANCELLED);
	g_assert_cmpint(run_plain("*", none, &asked), ==, VVM_SASL_CANCELLED);
	g_assert_cmpint(run_plain(NULL, junk, &asked), ==,
			VVM_SASL_NOT_BASE64);
	g_assert_cmpint(run_plain("YQ=b", none, &asked), ==,
			VVM_SASL_NOT_BASE64);
	g_assert_cmpint(run_plain(NULL, none, &asked), ==, VVM_SASL_STOPPED);
}

static void test_out_of_turn(void)
{
	struct directory dir = { 0 };
	struct vvm_sasl *server = server_new(ALL_MECHS, 256, &dir);
	const char plain[] = "\0alice\0" ALICE_PASSWORD;
	const void *out;
	size_t out_len;

	g_assert_null(vvm_sasl_mech(server));
	g_assert_cmpint(vvm_sasl_step(server, "x", 1, &out, &out_len), ==,
			VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PROTOCOL);
	g_assert_cmpint(vvm_sasl_finish(server, "", 0), ==, -EPROTO);

	/* aborted ("*"), then a retry on the same connection */
	g_assert_cmpint(
		vvm_sasl_start(server, "LOGIN", NULL, 0, &out, &out_len), ==,
		VVM_SASL_CONTINUE);
	vvm_sasl_abort(server);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PROTOCOL);
	g_assert_cmpint(vvm_sasl_step(server, "alice", 5, &out, &out_len), ==,
			VVM_SASL_FAILED);

	/* a wrong password, then the right one */
	g_assert_cmpint(vvm_sasl_start(server, "PLAIN", "\0alice\0nope", 11,
				       &out, &out_len),
			==, VVM_SASL_FAILED);
	g_assert_cmpint(vvm_sasl_failure(server), ==, VVM_SASL_BAD_PASSWORD);
	g_assert_cmpint(vvm_sasl_start(server, "PLAIN", plain,
				       sizeof(plain) - 1, &out, &out_len),
			==, VVM_SASL_OK);
	g_assert_cmpstr(vvm_sasl_user(server), ==, "alice");
	/* nothing pending after a success without final data */
	g_assert_cmpint(vvm_sasl_finish(server, "", 0), ==, -EPROTO);
	g_assert_cmpstr(vvm_sasl_user(server), ==, "alice");
	vvm_sasl_destroy(&server);
	directory_clear(&dir);
}

static void test_failure_str(void)
{
	g_assert_cmpstr(vvm_sasl_failure_str(VVM_SASL_UNKNOWN_USER), ==,
			"unknown user");
	g_assert_cmpstr(vvm_sasl_failure_str(VVM_SASL_BAD_PASSWORD), ==,
			"invalid password");
	g_assert_cmpstr(vvm_sasl_failure_str(VVM_SASL_NOT_AUTHORIZED), ==,
			"not authorized");
}

/* The config file written in main() says scram_iteration_counter: 1234;
 * libsasl2 would use it if it read the file. */
static void test_no_config_file(void)
{
	struct directory dir = { 0 };
	struct vvm_sasl *server = server_new("SCRAM-SHA-256", 256, &dir);
	const char *first = "n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL";
	const void *out;
	size_t out_len;
	g_autofree char *reply = NULL;

	g_assert_cmpint(vvm_sasl_start(server, "SCRAM-SHA-256", first,
				       strlen(first), &out, &out_len),
			==, VVM_SASL_CONTINUE);
	reply = g_strndup(out, out_len);
	g_assert_nonnull(strstr(reply, ",i="));
	g_assert_null(strstr(reply, ",i=" CONF_ITERATIONS));
	g_assert_cmpint(vvm_sasl_global_init("imap"), ==, 0);
	vvm_sasl_destroy(&server);
	directory_clear(&dir);
}

int main(int argc, char *argv[])
{
	g_autofree char *conf_dir = g_dir_make_tmp("test-sasl-XXXXXX", NULL);
	g_autofree char *conf = g_build_filename(conf_dir, "imap.conf", NULL);
	int ret;

	g_test_init(&argc, &argv, NULL);
	/* Bait for libsasl2: a config file and a plugin path in the
	 * environment, both of which it would honour by default. */
	g_assert_true(g_file_set_contents(
		conf,
		"scram_iteration_counter: " CONF_ITERATIONS "\n"
		"log_level: 7\n",
		-1, NULL));
	g_setenv("SASL_CONF_PATH", conf_dir, TRUE);
	g_setenv("SASL_PATH", "/nonexistent", TRUE);

	g_assert_cmpint(vvm_sasl_global_init("imap"), ==, 0);
	g_assert_cmpint(vvm_sasl_global_init("imap"), ==, 0);
	g_assert_cmpint(sasl_client_init(client_global_callbacks), ==, SASL_OK);

	for (size_t i = 0; i < G_N_ELEMENTS(mech_cases); i++) {
		const struct mech_case *mc = &mech_cases[i];
		static const struct {
			const char *name;
			GTestDataFunc fn;
		} cases[] = {
			{ "success", test_success },
			{ "bad-password", test_bad_password },
			{ "unknown-user", test_unknown_user },
			{ "system", test_system },
			{ "authzid", test_authzid },
			{ "garbage", test_garbage },
		};

		for (size_t j = 0; j < G_N_ELEMENTS(cases); j++) {
			g_autofree char *path = NULL;

			if (cases[j].fn == test_authzid && !mc->has_authzid)
				continue;
			path = g_strdup_printf("/sasl/%s/%s", mc->mech,
					       cases[j].name);
			g_test_add_data_func(path, mc, cases[j].fn);
		}
	}
	g_test_add_func("/sasl/digest-md5-by-hand", test_digest_by_hand);
	g_test_add_func("/sasl/digest-md5-by-hand-refused",
			test_digest_by_hand_refused);
	g_test_add_func("/sasl/empty-password", test_empty_password);
	g_test_add_func("/sasl/mech-list", test_mech_list);
	g_test_add_func("/sasl/initial-response", test_initial_response);
	g_test_add_func("/sasl/run", test_run);
	g_test_add_func("/sasl/out-of-turn", test_out_of_turn);
	g_test_add_func("/sasl/failure-str", test_failure_str);
	g_test_add_func("/sasl/no-config-file", test_no_config_file);
	ret = g_test_run();

	sasl_client_done();
	vvm_sasl_global_done();
	g_unlink(conf);
	g_rmdir(conf_dir);
	return ret;
}
