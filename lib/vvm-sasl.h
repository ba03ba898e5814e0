/* Server-side SASL for the protocol shims: a thin wrapper over Cyrus
 * libsasl2 that checks credentials against the subscriber's profile through
 * a lookup callback, never sasldb nor any file of libsasl2's own, and says
 * why an exchange failed in terms the protocol can answer (unknown user,
 * invalid password, ...).
 *
 * The protocol layer does the framing (base64, "+ " continuations, "*"
 * aborts); this module only sees raw mechanism bytes. One exchange at a time
 * per struct vvm_sasl; not thread-safe (one connection per process). */
#ifndef VVM_SASL_H
#define VVM_SASL_H

#include <stdbool.h>
#include <stddef.h>

/* Longest client response step accepted (bytes, before base64); anything
 * longer is refused as VVM_SASL_BAD_PROTOCOL. RFC 2831 caps a DIGEST-MD5
 * response at 4096. */
#define VVM_SASL_MAX_INPUT 16384

/* Looks up user's clear-text password. Returns 0 and *password_r (newly
 * allocated with malloc or g_malloc; the wrapper wipes and frees it),
 * -ENOENT for an unknown user, other -errno for a system failure. user is
 * what the client authenticated as (authcid; libsasl2 trims surrounding
 * white space), never empty and never containing '@'. realm is always NULL for
 * now: libsasl2 folds a DIGEST-MD5 realm into the user name, and the wrapper
 * refuses a realm other than the one it offered (as an unknown user) before
 * asking. An empty password means the subscriber cannot log in
 * (VVM_SASL_BAD_PASSWORD). */
typedef int vvm_sasl_lookup_fn(void *context, const char *user,
			       const char *realm, char **password_r);

/* Once per process: registers our in-memory auxprop plugin and initialises
 * libsasl2 for service (e.g. "imap"). No configuration file is read, only
 * the plugins of the mechanisms we offer are loaded (never sasldb), plugins
 * come only from libsasl2's compiled-in directory (SASL_PATH is ignored) and
 * libsasl2's own logging goes nowhere (at debug levels it can print secrets).
 * Returns 0, or -EIO if libsasl2 refuses. Idempotent: a later call, even with
 * another service, returns the first call's result. */
int vvm_sasl_global_init(const char *service) G_GNUC_WARN_UNUSED_RESULT;

/* Releases libsasl2's global state (for leak checkers at exit). Every
 * struct vvm_sasl must have been destroyed. vvm_sasl_global_init() may be
 * called again afterwards. */
void vvm_sasl_global_done(void);

struct vvm_sasl;

/* One authentication context for one client connection.
 * mechs: space-separated mechanisms allowed now, e.g. "DIGEST-MD5 CRAM-MD5"
 * before TLS or "DIGEST-MD5 PLAIN LOGIN SCRAM-SHA-256" after; names that
 * libsasl2 cannot provide are left out (see vvm_sasl_offers()).
 * server_fqdn: the realm/host named in DIGEST-MD5 and CRAM-MD5 challenges
 * (e.g. "vvm.example.net"). external_ssf > 0 when TLS is on.
 * Aborts on OOM. Returns NULL only if refused: *error_r = -EINVAL for a
 * malformed mechanism name, a missing server_fqdn or a global init that was
 * not done, -EIO when libsasl2 refuses. */
struct vvm_sasl *vvm_sasl_create(const char *server_fqdn, const char *mechs,
				 unsigned int external_ssf,
				 vvm_sasl_lookup_fn *lookup, void *context,
				 int *error_r) G_GNUC_WARN_UNUSED_RESULT;

/* Wipes and frees everything and sets *sasl to NULL. Accepts NULL and a
 * pointer to NULL. */
void vvm_sasl_destroy(struct vvm_sasl **sasl);

/* Whether mech (any case) is offered now: named in mechs and provided by
 * libsasl2. */
bool vvm_sasl_offers(const struct vvm_sasl *sasl, const char *mech);

/* The offered mechanisms, upper case, space-separated, in the order given to
 * vvm_sasl_create() (for CAPABILITY's AUTH=...); "" when none. Valid as long
 * as sasl. */
const char *vvm_sasl_mechs(const struct vvm_sasl *sasl);

enum vvm_sasl_result {
	/* send *out_r (raw bytes, possibly none; the caller base64s) as a
	 * challenge, then step with the client's answer */
	VVM_SASL_CONTINUE,
	/* authenticated; if *out_r != NULL (then *out_len_r > 0): send *out_r
	 * as a final challenge ("+ rspauth=..." for DIGEST-MD5, "+ v=..."
	 * for SCRAM); the client must answer with an empty response, which
	 * the caller passes to vvm_sasl_finish() before saying OK */
	VVM_SASL_OK,
	/* see vvm_sasl_failure() */
	VVM_SASL_FAILED,
};

enum vvm_sasl_failure {
	VVM_SASL_UNKNOWN_USER,
	VVM_SASL_BAD_PASSWORD,
	/* malformed client data, unsupported mech, aborted, out of turn */
	VVM_SASL_BAD_PROTOCOL,
	/* lookup said -EIO etc., or libsasl2 failed internally */
	VVM_SASL_SYSTEM,
	/* credentials were right but the client asked to act as another
	 * user (authzid != authcid): proxy authorisation is refused */
	VVM_SASL_NOT_AUTHORIZED,
};

/* Starts an exchange with mech (any case). initial: the client's initial
 * response (SASL-IR), or NULL when none was sent; an empty one is a non-NULL
 * pointer with initial_len 0. A new start after a failed or aborted exchange
 * begins afresh; after success it fails (BAD_PROTOCOL).
 * Returns the result; on CONTINUE and OK sets *out_r and *out_len_r, valid
 * until the next call on sasl (on CONTINUE *out_r is never NULL; on OK it is
 * NULL unless there is final server data). On FAILED leaves them alone. */
enum vvm_sasl_result vvm_sasl_start(struct vvm_sasl *sasl, const char *mech,
				    const void *initial, size_t initial_len,
				    const void **out_r, size_t *out_len_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* Feeds the client's answer (raw bytes, in_len may be 0) to the exchange
 * started by vvm_sasl_start(). Same returns and outputs as vvm_sasl_start();
 * FAILED (BAD_PROTOCOL) when no exchange is under way. */
enum vvm_sasl_result vvm_sasl_step(struct vvm_sasl *sasl, const void *in,
				   size_t in_len, const void **out_r,
				   size_t *out_len_r) G_GNUC_WARN_UNUSED_RESULT;

/* After VVM_SASL_OK with final server data: in is the client's answer,
 * which must be empty. Returns 0 (authenticated: vvm_sasl_user() is set) or
 * -EPROTO (the exchange failed with BAD_PROTOCOL, or no final data was
 * pending). */
int vvm_sasl_finish(struct vvm_sasl *sasl, const void *in, size_t in_len)
	G_GNUC_WARN_UNUSED_RESULT;

/* Abandons the exchange under way, e.g. when the client answered "*". The
 * failure becomes BAD_PROTOCOL. No-op when nothing is under way. */
void vvm_sasl_abort(struct vvm_sasl *sasl);

/* Why the last exchange failed. Meaningful only after VVM_SASL_FAILED or a
 * failed vvm_sasl_finish(); BAD_PROTOCOL before any failure. */
enum vvm_sasl_failure vvm_sasl_failure(const struct vvm_sasl *sasl);

/* A static, secret-free name for a failure, for logs. */
const char *vvm_sasl_failure_str(enum vvm_sasl_failure failure);

/* The protocol's half of a whole exchange: sends challenge (base64, ""
 * for an empty one) the protocol's way ("+ " in IMAP, "334 " in SMTP) and
 * returns the client's answer line as sent (a new string for g_free()),
 * or NULL when the exchange cannot go on (the connection is gone, the
 * line was too long); the callback then has answered the client itself. */
typedef char *vvm_sasl_challenge_fn(void *context, const char *challenge);

enum vvm_sasl_outcome {
	VVM_SASL_AUTHENTICATED,   /* vvm_sasl_user() is set */
	VVM_SASL_REFUSED,         /* see vvm_sasl_failure() */
	VVM_SASL_CANCELLED,       /* the client answered "*" */
	VVM_SASL_NOT_BASE64,      /* an answer was not strict base64 */
	VVM_SASL_STOPPED,         /* the challenge callback returned NULL */
};

/* Runs a whole exchange with mech: the initial response (base64 as the
 * client sent it, "=" for an empty one, NULL for none), every challenge
 * through the callback, and the final server data (DIGEST-MD5's rspauth,
 * SCRAM's verifier) as one more challenge whose answer must be empty
 * (else REFUSED with BAD_PROTOCOL). */
enum vvm_sasl_outcome vvm_sasl_run(struct vvm_sasl *sasl, const char *mech,
				   const char *initial,
				   vvm_sasl_challenge_fn *challenge,
				   void *context) G_GNUC_WARN_UNUSED_RESULT;

/* The authenticated user (authcid; the authzid must equal it or be empty),
 * or NULL until authentication is complete, i.e. after VVM_SASL_OK without
 * final data or after vvm_sasl_finish() returned 0. Valid as long as sasl. */
const char *vvm_sasl_user(const struct vvm_sasl *sasl);

/* The mechanism of the last exchange (upper case), or NULL before any. */
const char *vvm_sasl_mech(const struct vvm_sasl *sasl);

#endif
