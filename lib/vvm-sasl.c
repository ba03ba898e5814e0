/* Server-side SASL over Cyrus libsasl2.
 *
 * How the pieces fit:
 * - Passwords reach libsasl2 only through our auxprop plugin "vvm", which
 *   answers the "*userPassword" property from the caller's lookup. DIGEST-MD5,
 *   CRAM-MD5 and SCRAM (which derives its salted secret from the clear text
 *   when no SCRAM secret is stored) read the property directly; PLAIN and
 *   LOGIN go through sasl_checkpass(), which we point at the same property
 *   with pwcheck_method=auxprop and auxprop_plugin=vvm.
 * - Every option libsasl2 consults comes from our getopt callback; its config
 *   file is never opened (the verifyfile callback skips it), and only the
 *   plugin files of the mechanisms we offer are loaded, from the compiled-in
 *   directory, so the sasldb plugin, which would open /etc/sasldb2, is never
 *   loaded.
 * - Why an exchange failed is decided from what our own lookup said during
 *   that exchange, not from libsasl2's return code: the plugins use
 *   SASL_BADAUTH for a malformed DIGEST-MD5 response as well as for a wrong
 *   password, and SASL_NOUSER means different things in different plugins.
 * - The connection is created with SASL_SUCCESS_DATA so that libsasl2 hands us
 *   the final server data (DIGEST-MD5's rspauth, SCRAM's v=) with SASL_OK
 *   instead of hiding it behind a SASL_CONTINUE and then accepting whatever
 *   the client sends next; we check that answer is empty ourselves. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "vvm-sasl.h"

#ifndef VVM_SASL_PLUGIN_DIR
#error "VVM_SASL_PLUGIN_DIR must name libsasl2's plugin directory"
#endif

#define AUXPROP_NAME "vvm"
/* RFC 4422 section 3.1: 1 to 20 of A-Z 0-9 - _ */
#define MECH_NAME_MAX 20

enum exchange_state {
	EXCHANGE_IDLE,
	EXCHANGE_RUNNING,
	EXCHANGE_FINAL_PENDING, /* final server data sent, empty answer due */
	EXCHANGE_DONE,		/* authenticated */
	EXCHANGE_FAILED,
};

enum lookup_state {
	LOOKUP_NONE, /* not asked during this exchange */
	LOOKUP_FOUND,
	LOOKUP_EMPTY,	  /* user exists but has no password */
	LOOKUP_NOT_FOUND, /* -ENOENT, or a name we refuse without asking */
	LOOKUP_ERROR,	  /* any other -errno */
};

struct vvm_sasl {
	sasl_conn_t *conn;
	/* conn has run an exchange: make a fresh one before the next */
	bool conn_used;
	char *fqdn;
	char *mech_list; /* upper case, space-separated, as asked for */
	char *offered;	 /* what libsasl2 lists for conn */
	unsigned int external_ssf;
	vvm_sasl_lookup_fn *lookup;
	void *lookup_context;
	sasl_callback_t callbacks[3];

	enum exchange_state state;
	enum vvm_sasl_failure failure;
	char *mech;
	char *user; /* authcid once libsasl2 said OK */

	/* This exchange's lookup: PLAIN/LOGIN make libsasl2 look the user up
	 * twice (at canonicalisation and again in sasl_checkpass()), so the
	 * answer is kept until the exchange ends rather than read twice. */
	enum lookup_state lookup_state;
	char *lookup_user;
	char *password;
	bool authz_refused;
	/* LOGIN's next client data is the user name (see vvm_sasl_step()) */
	bool login_user_next;
};

static bool global_initialised;
static int global_result;
static char *global_service;

/* libsasl2 declares callbacks as int (*)(void); going through
 * void (*)(void) keeps -Wcast-function-type quiet about the cast that its
 * API requires. */
#define SASL_CB(fn) ((sasl_callback_ft)(void (*)(void))(fn))

static void wipe_free(char **secret)
{
	if (*secret == NULL)
		return;
	explicit_bzero(*secret, strlen(*secret));
	free(*secret);
	*secret = NULL;
}

static void lookup_reset(struct vvm_sasl *sasl)
{
	wipe_free(&sasl->password);
	g_clear_pointer(&sasl->lookup_user, g_free);
	sasl->lookup_state = LOOKUP_NONE;
}

/* libsasl2 keeps the password it got from us in the connection's property
 * context; prop_erase() overwrites it. */
static void conn_erase_password(struct vvm_sasl *sasl)
{
	struct propctx *props;

	if (sasl->conn == NULL)
		return;
	props = sasl_auxprop_getctx(sasl->conn);
	if (props != NULL)
		prop_erase(props, SASL_AUX_PASSWORD);
}

/* ---- callbacks ---- */

/* libsasl2 and its plugins log user names, protocol traces and, at
 * SASL_LOG_PASS, passwords: none of it goes anywhere. The protocol layer
 * logs what it needs from vvm_sasl_failure(). */
static int log_discard(void *context, int level, const char *message)
{
	return SASL_OK;
}

static int getopt_cb(void *context, const char *plugin_name, const char *option,
		     const char **result, unsigned *len)
{
	const struct vvm_sasl *sasl = context;
	const char *value = NULL;

	if (strcmp(option, "pwcheck_method") == 0)
		value = "auxprop";
	else if (strcmp(option, "auxprop_plugin") == 0)
		value = AUXPROP_NAME;
	else if (strcmp(option, "log_level") == 0)
		value = "0";
	else if (strcmp(option, "auto_transition") == 0)
		value = "no";
	else if (strcmp(option, "reauth_timeout") == 0)
		/* DIGEST-MD5 fast reauth keeps nonces across connections in
		 * a process-wide cache; we have one connection per process */
		value = "0";
	else if (strcmp(option, "mech_list") == 0 && sasl != NULL)
		/* per connection: mechanisms off the list are unknown to
		 * libsasl2 for this connection, not merely unadvertised */
		value = sasl->mech_list;
	if (value == NULL)
		return SASL_FAIL;
	*result = value;
	if (len != NULL)
		*len = (unsigned)strlen(value);
	return SASL_OK;
}

/* The plugin directory is fixed at build time so that SASL_PATH in the
 * environment cannot bring in other code. */
static int getpath_cb(void *context, const char **path)
{
	*path = VVM_SASL_PLUGIN_DIR;
	return SASL_OK;
}

static const char *const plugin_files[] = {
	VVM_SASL_PLUGIN_DIR "/libdigestmd5.so",
	VVM_SASL_PLUGIN_DIR "/libcrammd5.so",
	VVM_SASL_PLUGIN_DIR "/libplain.so",
	VVM_SASL_PLUGIN_DIR "/liblogin.so",
	VVM_SASL_PLUGIN_DIR "/libscram.so",
};

/* libsasl2 asks before it opens any file. Only the mechanism plugins we can
 * offer are loaded: not sasldb (it opens /etc/sasldb2 and would answer
 * lookups from it), ntlm, anonymous, gssapi, otp... The config file
 * (<service>.conf in /etc/sasl2 or $SASL_CONF_PATH) is skipped, so every
 * option comes from getopt_cb(). */
static int verifyfile_cb(void *context, const char *file,
			 sasl_verify_type_t type)
{
	switch (type) {
	case SASL_VRFY_PLUGIN:
		for (size_t i = 0; i < G_N_ELEMENTS(plugin_files); i++)
			if (strcmp(file, plugin_files[i]) == 0)
				return SASL_OK;
		return SASL_CONTINUE;
	case SASL_VRFY_CONF:
		return SASL_CONTINUE;
	case SASL_VRFY_PASSWD:
	case SASL_VRFY_OTHER:
		break;
	}
	return SASL_FAIL;
}

/* Proxy authorisation is refused: the authzid, once canonicalised, must be
 * the authcid (libsasl2 passes the authcid as requested_user when the client
 * sent no authzid). */
static int proxy_policy_cb(sasl_conn_t *conn, void *context,
			   const char *requested_user, unsigned rlen,
			   const char *auth_identity, unsigned alen,
			   const char *def_realm, unsigned urlen,
			   struct propctx *propctx)
{
	struct vvm_sasl *sasl = context;

	if (rlen == alen && memcmp(requested_user, auth_identity, alen) == 0)
		return SASL_OK;
	sasl->authz_refused = true;
	return SASL_NOAUTHZ;
}

static const sasl_callback_t global_callbacks[] = {
	{ SASL_CB_LOG, SASL_CB(log_discard), NULL },
	{ SASL_CB_GETOPT, SASL_CB(getopt_cb), NULL },
	{ SASL_CB_GETPATH, SASL_CB(getpath_cb), NULL },
	{ SASL_CB_VERIFYFILE, SASL_CB(verifyfile_cb), NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

/* ---- the auxprop plugin ---- */

/* The plugin is process-wide; the connection it serves is found through our
 * own proxy-policy callback, whose context is the struct vvm_sasl. */
static struct vvm_sasl *sasl_from_utils(const sasl_utils_t *utils)
{
	sasl_callback_ft proc = NULL;
	void *context = NULL;

	if (utils == NULL || utils->conn == NULL ||
	    utils->getcallback(utils->conn, SASL_CB_PROXY_POLICY, &proc,
			       &context) != SASL_OK ||
	    proc != SASL_CB(proxy_policy_cb))
		return NULL;
	return context;
}

static void lookup_user(struct vvm_sasl *sasl, const char *user, unsigned ulen)
{
	char *password = NULL;
	int ret;

	if (sasl->lookup_user != NULL && strlen(sasl->lookup_user) == ulen &&
	    memcmp(sasl->lookup_user, user, ulen) == 0)
		return;
	lookup_reset(sasl);
	sasl->lookup_user = g_strndup(user, ulen);
	/* A name with '@' is a user who typed one or a DIGEST-MD5 realm
	 * other than ours, which libsasl2 appends as user@realm. Neither is
	 * a subscriber; NUL inside the name would make it another one. */
	if (ulen == 0 || strlen(sasl->lookup_user) != ulen ||
	    strchr(sasl->lookup_user, '@') != NULL) {
		sasl->lookup_state = LOOKUP_NOT_FOUND;
		return;
	}
	ret = sasl->lookup(sasl->lookup_context, sasl->lookup_user, NULL,
			   &password);
	if (ret == 0 && password == NULL)
		ret = -EIO;
	if (ret == 0 && password[0] == '\0')
		sasl->lookup_state = LOOKUP_EMPTY;
	else if (ret == 0)
		sasl->lookup_state = LOOKUP_FOUND;
	else if (ret == -ENOENT)
		sasl->lookup_state = LOOKUP_NOT_FOUND;
	else
		sasl->lookup_state = LOOKUP_ERROR;
	if (sasl->lookup_state == LOOKUP_FOUND)
		sasl->password = password;
	else
		wipe_free(&password);
}

static int auxprop_lookup(void *glob_context, sasl_server_params_t *sparams,
			  unsigned flags, const char *user, unsigned ulen)
{
	struct vvm_sasl *sasl = sasl_from_utils(sparams->utils);
	const struct propval *prop;
	const char *name = NULL;

	if (sasl == NULL)
		return SASL_FAIL;
	/* Nothing is known about an authzid; the proxy policy decides. */
	if ((flags & SASL_AUXPROP_AUTHZID) != 0)
		return SASL_OK;
	for (prop = sparams->utils->prop_get(sparams->propctx);
	     prop != NULL && prop->name != NULL; prop++) {
		/* "*name" properties belong to the authcid */
		if (prop->name[0] == '*' &&
		    strcasecmp(prop->name + 1, SASL_AUX_PASSWORD_PROP) == 0) {
			name = prop->name;
			break;
		}
	}
	if (name == NULL)
		return SASL_OK;
	if (prop->values != NULL) {
		if ((flags & SASL_AUXPROP_OVERRIDE) == 0)
			return SASL_OK;
		sparams->utils->prop_erase(sparams->propctx, name);
	}

	lookup_user(sasl, user, ulen);
	switch (sasl->lookup_state) {
	case LOOKUP_FOUND:
		return sparams->utils->prop_set(sparams->propctx, name,
						sasl->password,
						(int)strlen(sasl->password));
	case LOOKUP_NONE:
	case LOOKUP_EMPTY:
	case LOOKUP_NOT_FOUND:
		return SASL_NOUSER;
	case LOOKUP_ERROR:
		break;
	}
	/* overrides every other result in libsasl2's merging */
	return SASL_UNAVAIL;
}

static char auxprop_name[] = AUXPROP_NAME;

static sasl_auxprop_plug_t auxprop_plug = {
	.auxprop_lookup = auxprop_lookup,
	.name = auxprop_name,
};

static int auxprop_init(const sasl_utils_t *utils, int max_version,
			int *out_version, sasl_auxprop_plug_t **plug,
			const char *plugname)
{
	if (max_version < SASL_AUXPROP_PLUG_VERSION)
		return SASL_BADVERS;
	*out_version = SASL_AUXPROP_PLUG_VERSION;
	*plug = &auxprop_plug;
	return SASL_OK;
}

/* ---- global ---- */

int vvm_sasl_global_init(const char *service)
{
	int ret;

	if (global_initialised)
		return global_result;
	global_initialised = true;
	global_service = g_strdup(service);
	/* libsasl2 keeps the pointer to the callbacks, hence static */
	ret = sasl_server_init(global_callbacks, global_service);
	if (ret == SASL_OK)
		ret = sasl_auxprop_add_plugin(AUXPROP_NAME, auxprop_init);
	global_result = ret == SASL_OK ? 0 : -EIO;
	return global_result;
}

void vvm_sasl_global_done(void)
{
	if (!global_initialised)
		return;
	if (global_result == 0)
		sasl_server_done();
	g_clear_pointer(&global_service, g_free);
	global_initialised = false;
	global_result = 0;
}

/* ---- connection ---- */

static bool mech_char_valid(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

/* Upper-cases mech into buf (MECH_NAME_MAX + 1 bytes). Returns 0 or
 * -EINVAL if it is not a mechanism name. */
static int mech_normalise(const char *mech, size_t len, char *buf)
{
	if (len == 0 || len > MECH_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		buf[i] = g_ascii_toupper(mech[i]);
		if (!mech_char_valid(buf[i]))
			return -EINVAL;
	}
	buf[len] = '\0';
	return 0;
}

/* Whether the space-separated list has word (exact, upper case). */
static bool list_has(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, " ");

		if (n == len && memcmp(p, word, len) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

/* Returns 0 and *list_r, or -EINVAL. */
static int mech_list_parse(const char *mechs, char **list_r)
{
	GString *list = g_string_new(NULL);
	char name[MECH_NAME_MAX + 1];

	for (const char *p = mechs + strspn(mechs, " "); *p != '\0';) {
		size_t n = strcspn(p, " ");

		if (mech_normalise(p, n, name) < 0) {
			g_string_free(list, TRUE);
			return -EINVAL;
		}
		if (!list_has(list->str, name)) {
			if (list->len > 0)
				g_string_append_c(list, ' ');
			g_string_append(list, name);
		}
		p += n;
		p += strspn(p, " ");
	}
	*list_r = g_string_free(list, FALSE);
	return 0;
}

/* Returns 0, or -ENOMEM/-EIO if libsasl2 refuses. */
static int conn_new(struct vvm_sasl *sasl)
{
	/* No security layer: the shims do not wrap the stream after
	 * authentication, so DIGEST-MD5 must offer qop=auth only. */
	sasl_security_properties_t secprops = {
		.min_ssf = 0,
		.max_ssf = 0,
		.maxbufsize = 0,
		.security_flags = SASL_SEC_NOANONYMOUS,
	};
	sasl_ssf_t ssf = sasl->external_ssf;
	sasl_conn_t *conn = NULL;
	int ret;

	ret = sasl_server_new(global_service, sasl->fqdn, NULL, NULL, NULL,
			      sasl->callbacks, SASL_SUCCESS_DATA, &conn);
	if (ret == SASL_OK)
		ret = sasl_setprop(conn, SASL_SEC_PROPS, &secprops);
	if (ret == SASL_OK)
		ret = sasl_setprop(conn, SASL_SSF_EXTERNAL, &ssf);
	if (ret != SASL_OK) {
		if (conn != NULL)
			sasl_dispose(&conn);
		return ret == SASL_NOMEM ? -ENOMEM : -EIO;
	}
	sasl->conn = conn;
	sasl->conn_used = false;
	return 0;
}

static void conn_free(struct vvm_sasl *sasl)
{
	conn_erase_password(sasl);
	if (sasl->conn != NULL)
		sasl_dispose(&sasl->conn);
}

/* What libsasl2 offers on conn: mech_list as it understood it, less what it
 * cannot provide. Returns 0 or -EIO. */
static int conn_list(struct vvm_sasl *sasl, char **offered_r)
{
	const char *listed = NULL;
	unsigned len = 0;
	int count = 0;
	int ret;

	if (sasl->mech_list[0] == '\0') {
		/* libsasl2 treats an empty list as "nothing" too, but fails
		 * sasl_listmech() on it */
		*offered_r = g_strdup("");
		return 0;
	}
	ret = sasl_listmech(sasl->conn, NULL, "", " ", "", &listed, &len,
			    &count);
	if (ret == SASL_NOMECH) {
		*offered_r = g_strdup("");
		return 0;
	}
	if (ret != SASL_OK)
		return -EIO;
	*offered_r = g_ascii_strup(listed, len);
	return 0;
}

struct vvm_sasl *vvm_sasl_create(const char *server_fqdn, const char *mechs,
				 unsigned int external_ssf,
				 vvm_sasl_lookup_fn *lookup, void *context,
				 int *error_r)
{
	struct vvm_sasl *sasl;
	int ret;

	/* without a name libsasl2 would resolve the host's, through DNS */
	if (!global_initialised || global_result != 0 || server_fqdn == NULL ||
	    server_fqdn[0] == '\0' || mechs == NULL || lookup == NULL) {
		*error_r = -EINVAL;
		return NULL;
	}
	sasl = g_new0(struct vvm_sasl, 1);
	if (mech_list_parse(mechs, &sasl->mech_list) < 0) {
		g_free(sasl);
		*error_r = -EINVAL;
		return NULL;
	}
	sasl->fqdn = g_strdup(server_fqdn);
	sasl->external_ssf = external_ssf;
	sasl->lookup = lookup;
	sasl->lookup_context = context;
	sasl->failure = VVM_SASL_BAD_PROTOCOL;
	sasl->callbacks[0] =
		(sasl_callback_t){ SASL_CB_GETOPT, SASL_CB(getopt_cb), sasl };
	sasl->callbacks[1] =
		(sasl_callback_t){ SASL_CB_PROXY_POLICY,
				   SASL_CB(proxy_policy_cb), sasl };
	sasl->callbacks[2] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };

	ret = conn_new(sasl);
	if (ret == 0)
		ret = conn_list(sasl, &sasl->offered);
	if (ret == -ENOMEM)
		g_error("vvm-sasl: out of memory");
	if (ret < 0) {
		vvm_sasl_destroy(&sasl);
		*error_r = ret;
		return NULL;
	}
	return sasl;
}

void vvm_sasl_destroy(struct vvm_sasl **_sasl)
{
	struct vvm_sasl *sasl = _sasl != NULL ? *_sasl : NULL;

	if (sasl == NULL)
		return;
	*_sasl = NULL;
	conn_free(sasl);
	lookup_reset(sasl);
	g_free(sasl->fqdn);
	g_free(sasl->mech_list);
	g_free(sasl->offered);
	g_free(sasl->mech);
	g_free(sasl->user);
	g_free(sasl);
}

bool vvm_sasl_offers(const struct vvm_sasl *sasl, const char *mech)
{
	char name[MECH_NAME_MAX + 1];

	return mech_normalise(mech, strlen(mech), name) == 0 &&
	       list_has(sasl->offered, name);
}

const char *vvm_sasl_mechs(const struct vvm_sasl *sasl)
{
	return sasl->offered;
}

/* ---- exchanges ---- */

/* Why the exchange failed, from what our lookup saw first: libsasl2's code
 * only separates malformed input from the rest when no password was ever
 * looked at. */
static enum vvm_sasl_failure classify(const struct vvm_sasl *sasl, int ret)
{
	if (sasl->authz_refused)
		return VVM_SASL_NOT_AUTHORIZED;
	switch (sasl->lookup_state) {
	case LOOKUP_NOT_FOUND:
		return VVM_SASL_UNKNOWN_USER;
	case LOOKUP_ERROR:
		return VVM_SASL_SYSTEM;
	case LOOKUP_FOUND:
	case LOOKUP_EMPTY:
		/* the client's proof was checked against a real password,
		 * unless it was malformed after the user name was read
		 * (e.g. SCRAM's client-final-message) */
		return ret == SASL_BADPROT || ret == SASL_BADPARAM
			       ? VVM_SASL_BAD_PROTOCOL
			       : VVM_SASL_BAD_PASSWORD;
	case LOOKUP_NONE:
		break;
	}
	switch (ret) {
	case SASL_NOMEM:
	case SASL_UNAVAIL:
	case SASL_TRYAGAIN:
	case SASL_NOTINIT:
	case SASL_INTERACT:
		return VVM_SASL_SYSTEM;
	default:
		/* the exchange never reached the user's password */
		return VVM_SASL_BAD_PROTOCOL;
	}
}

static void exchange_end(struct vvm_sasl *sasl)
{
	lookup_reset(sasl);
	conn_erase_password(sasl);
}

static enum vvm_sasl_result exchange_fail(struct vvm_sasl *sasl,
					  enum vvm_sasl_failure failure)
{
	sasl->failure = failure;
	/* an authenticated session stays so: a stray AUTHENTICATE after
	 * success fails without logging the user out */
	if (sasl->state != EXCHANGE_DONE) {
		sasl->state = EXCHANGE_FAILED;
		g_clear_pointer(&sasl->user, g_free);
	}
	exchange_end(sasl);
	return VVM_SASL_FAILED;
}

/* On SASL_OK: the identities libsasl2 settled on. The proxy policy has
 * already compared them; checking again costs nothing. Returns 0 or
 * -EPERM. */
static int exchange_identity(struct vvm_sasl *sasl)
{
	const void *authcid = NULL;
	const void *authzid = NULL;

	if (sasl_getprop(sasl->conn, SASL_AUTHUSER, &authcid) != SASL_OK ||
	    sasl_getprop(sasl->conn, SASL_USERNAME, &authzid) != SASL_OK ||
	    authcid == NULL || authzid == NULL ||
	    strcmp(authcid, authzid) != 0 || ((const char *)authcid)[0] == '\0')
		return -EPERM;
	g_free(sasl->user);
	sasl->user = g_strdup(authcid);
	return 0;
}

static enum vvm_sasl_result exchange_result(struct vvm_sasl *sasl, int ret,
					    const char *out, unsigned out_len,
					    const void **out_r,
					    size_t *out_len_r)
{
	switch (ret) {
	case SASL_CONTINUE:
		sasl->state = EXCHANGE_RUNNING;
		*out_r = out != NULL ? out : "";
		*out_len_r = out != NULL ? out_len : 0;
		return VVM_SASL_CONTINUE;
	case SASL_OK:
		if (exchange_identity(sasl) < 0)
			return exchange_fail(sasl, VVM_SASL_NOT_AUTHORIZED);
		exchange_end(sasl);
		/* None of our mechanisms sends empty final data, and
		 * libsasl2 may leave out pointing at "" when it has none. */
		if (out != NULL && out_len > 0) {
			sasl->state = EXCHANGE_FINAL_PENDING;
			*out_r = out;
			*out_len_r = out_len;
		} else {
			sasl->state = EXCHANGE_DONE;
			*out_r = NULL;
			*out_len_r = 0;
		}
		return VVM_SASL_OK;
	default:
		return exchange_fail(sasl, classify(sasl, ret));
	}
}

enum vvm_sasl_result vvm_sasl_start(struct vvm_sasl *sasl, const char *mech,
				    const void *initial, size_t initial_len,
				    const void **out_r, size_t *out_len_r)
{
	char name[MECH_NAME_MAX + 1];
	const char *out = NULL;
	unsigned out_len = 0;
	int ret;

	if (sasl->state == EXCHANGE_DONE)
		return exchange_fail(sasl, VVM_SASL_BAD_PROTOCOL);
	exchange_end(sasl);
	sasl->authz_refused = false;
	sasl->state = EXCHANGE_IDLE;
	g_clear_pointer(&sasl->user, g_free);
	g_clear_pointer(&sasl->mech, g_free);
	if (mech_normalise(mech, strlen(mech), name) < 0 ||
	    !list_has(sasl->offered, name))
		return exchange_fail(sasl, VVM_SASL_BAD_PROTOCOL);
	sasl->mech = g_strdup(name);
	if (initial == NULL && initial_len > 0)
		return exchange_fail(sasl, VVM_SASL_BAD_PROTOCOL);
	if (initial_len > VVM_SASL_MAX_INPUT)
		return exchange_fail(sasl, VVM_SASL_BAD_PROTOCOL);

	/* A libsasl2 connection is not reliably reusable after a failed
	 * exchange (mechanism state, properties, sent_last), so each retry
	 * gets a fresh one. */
	if (sasl->conn_used) {
		conn_free(sasl);
		ret = conn_new(sasl);
		if (ret == -ENOMEM)
			g_error("vvm-sasl: out of memory");
		if (ret < 0)
			return exchange_fail(sasl, VVM_SASL_SYSTEM);
	}
	sasl->conn_used = true;
	/* libsasl2's LOGIN takes an empty initial response as none */
	sasl->login_user_next = strcmp(name, "LOGIN") == 0 && initial_len == 0;
	ret = sasl_server_start(sasl->conn, name, initial,
				(unsigned)initial_len, &out, &out_len);
	return exchange_result(sasl, ret, out, out_len, out_r, out_len_r);
}

/* Whether a DIGEST-MD5 response names a directive twice. RFC 2831
 * forbids it, and libsasl2 2.1.28 leaks the first copy when it happens,
 * which a client could repeat without end before logging in. */
static bool digest_repeats_directive(const char *in, size_t len)
{
	g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
	size_t i = 0;

	while (i < len) {
		while (i < len && (in[i] == ',' || g_ascii_isspace(in[i])))
			i++;
		size_t start = i;
		while (i < len && in[i] != '=' && in[i] != ',')
			i++;
		g_autofree char *name = g_ascii_strdown(in + start, (gssize)(i - start));
		g_strstrip(name);
		for (guint k = 0; k < seen->len && *name != '\0'; k++) {
			if (strcmp(seen->pdata[k], name) == 0)
				return true;
		}
		if (*name != '\0')
			g_ptr_array_add(seen, g_steal_pointer(&name));
		if (i < len && in[i] == '=') {
			i++;
			while (i < len && g_ascii_isspace(in[i]))
				i++;
			if (i < len && in[i] == '"') {
				for (i++; i < len && in[i] != '"'; i++) {
					if (in[i] == '\\')
						i++;
				}
				i++;
			}
			while (i < len && in[i] != ',')
				i++;
		}
	}
	return false;
}

enum vvm_sasl_result vvm_sasl_step(struct vvm_sasl *sasl, const void *in,
				   size_t in_len, const void **out_r,
				   size_t *out_len_r)
{
	const char *out = NULL;
	unsigned out_len = 0;
	int ret;

	if (sasl->state != EXCHANGE_RUNNING)
		return exchange_fail(sasl, VVM_SASL_BAD_PROTOCOL);
	if ((in == NULL && in_len > 0) || in_len > VVM_SASL_MAX_INPUT)
		return exchange_fail(sasl, VVM_SASL_BAD_PROTOCOL);
	/* libsasl2 2.1.28's LOGIN plugin leaks its copy of the password when
	 * the user name fails canonicalisation, which an empty one does; no
	 * subscriber has an empty name, so refuse it before it gets there. */
	if (sasl->login_user_next && in_len == 0)
		return exchange_fail(sasl, VVM_SASL_BAD_PROTOCOL);
	sasl->login_user_next = false;
	if (in != NULL && sasl->mech != NULL &&
	    g_ascii_strcasecmp(sasl->mech, "DIGEST-MD5") == 0 &&
	    digest_repeats_directive(in, in_len))
		return exchange_fail(sasl, VVM_SASL_BAD_PROTOCOL);
	ret = sasl_server_step(sasl->conn, in != NULL ? in : "",
			       (unsigned)in_len, &out, &out_len);
	return exchange_result(sasl, ret, out, out_len, out_r, out_len_r);
}

int vvm_sasl_finish(struct vvm_sasl *sasl, const void *in, size_t in_len)
{
	if (sasl->state != EXCHANGE_FINAL_PENDING || in_len != 0) {
		exchange_fail(sasl, VVM_SASL_BAD_PROTOCOL);
		return -EPROTO;
	}
	sasl->state = EXCHANGE_DONE;
	return 0;
}

void vvm_sasl_abort(struct vvm_sasl *sasl)
{
	if (sasl->state == EXCHANGE_RUNNING ||
	    sasl->state == EXCHANGE_FINAL_PENDING)
		exchange_fail(sasl, VVM_SASL_BAD_PROTOCOL);
}

enum vvm_sasl_failure vvm_sasl_failure(const struct vvm_sasl *sasl)
{
	return sasl->failure;
}

const char *vvm_sasl_failure_str(enum vvm_sasl_failure failure)
{
	switch (failure) {
	case VVM_SASL_UNKNOWN_USER:
		return "unknown user";
	case VVM_SASL_BAD_PASSWORD:
		return "invalid password";
	case VVM_SASL_BAD_PROTOCOL:
		return "protocol error";
	case VVM_SASL_SYSTEM:
		return "system error";
	case VVM_SASL_NOT_AUTHORIZED:
		return "not authorized";
	}
	return "unknown failure";
}

const char *vvm_sasl_user(const struct vvm_sasl *sasl)
{
	return sasl->state == EXCHANGE_DONE ? sasl->user : NULL;
}

const char *vvm_sasl_mech(const struct vvm_sasl *sasl)
{
	return sasl->mech;
}

/* Strict base64 (RFC 4648 4: whole quanta, padding only at the end),
 * which g_base64_decode() does not check: it skips junk. */
static bool base64_valid(const char *text)
{
	size_t len = strlen(text);

	if (len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '=') {
			/* "x=" and "==" close the text, nothing after */
			if (i < len - 2 || (i == len - 2 && text[i + 1] != '='))
				return false;
		} else if (!g_ascii_isalnum(c) && c != '+' && c != '/') {
			return false;
		}
	}
	return true;
}

/* A client's base64 text as bytes (never NULL, even when empty); false
 * with *why_r when it is "*" or not base64. "=" is the empty initial
 * response. */
static bool decode_answer(const char *text, bool initial, guchar **in_r,
			  gsize *len_r, enum vvm_sasl_outcome *why_r)
{
	*len_r = 0;
	if (strcmp(text, "*") == 0) {
		*why_r = VVM_SASL_CANCELLED;
		return false;
	}
	if ((initial && strcmp(text, "=") == 0) || *text == '\0') {
		/* g_base64_decode() would give NULL for nothing. */
		*in_r = g_malloc0(1);
		return true;
	}
	if (!base64_valid(text)) {
		*why_r = VVM_SASL_NOT_BASE64;
		return false;
	}
	*in_r = g_base64_decode(text, len_r);
	return true;
}

/* Sends out as a challenge and decodes the answer. */
static bool ask(vvm_sasl_challenge_fn *challenge, void *context,
		const void *out, size_t out_len, guchar **in_r, gsize *len_r,
		enum vvm_sasl_outcome *why_r)
{
	g_autofree char *b64 = out_len > 0 ? g_base64_encode(out, out_len) :
					     g_strdup("");
	g_autofree char *line = challenge(context, b64);

	if (line == NULL) {
		*why_r = VVM_SASL_STOPPED;
		return false;
	}
	return decode_answer(line, false, in_r, len_r, why_r);
}

enum vvm_sasl_outcome vvm_sasl_run(struct vvm_sasl *sasl, const char *mech,
				   const char *initial,
				   vvm_sasl_challenge_fn *challenge,
				   void *context)
{
	g_autofree guchar *in = NULL;
	gsize in_len = 0;
	const void *out;
	size_t out_len;
	enum vvm_sasl_result res;
	enum vvm_sasl_outcome why;

	if (initial == NULL) {
		res = vvm_sasl_start(sasl, mech, NULL, 0, &out, &out_len);
	} else if (decode_answer(initial, true, &in, &in_len, &why)) {
		res = vvm_sasl_start(sasl, mech, in, in_len, &out, &out_len);
	} else {
		return why;
	}
	while (res == VVM_SASL_CONTINUE) {
		g_clear_pointer(&in, g_free);
		if (!ask(challenge, context, out, out_len, &in, &in_len, &why)) {
			vvm_sasl_abort(sasl);
			return why;
		}
		res = vvm_sasl_step(sasl, in, in_len, &out, &out_len);
	}
	if (res == VVM_SASL_FAILED)
		return VVM_SASL_REFUSED;
	if (out != NULL) {
		/* Final server data, which the client acknowledges with an
		 * empty answer before the success reply. */
		g_clear_pointer(&in, g_free);
		if (!ask(challenge, context, out, out_len, &in, &in_len, &why)) {
			vvm_sasl_abort(sasl);
			return why;
		}
		if (vvm_sasl_finish(sasl, in, in_len) < 0)
			return VVM_SASL_REFUSED;
	}
	return VVM_SASL_AUTHENTICATED;
}
