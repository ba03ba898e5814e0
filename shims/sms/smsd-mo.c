#include "smsd-mo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <glib.h>

#include "vvm-login.h"
#include "vvm-mount.h"
#include "vvm-sms.h"

static const char *const command_names[] = {
	[VVM_SMS_MO_STATUS] = "STATUS",
	[VVM_SMS_MO_ACTIVATE] = "Activate",
	[VVM_SMS_MO_DEACTIVATE] = "Deactivate",
};

/* One MO being applied: who sent it and where they are in the mount. */
struct mo_ctx {
	const struct smsd_config *cfg;
	char number[VVM_SMS_ADDR_MAX + 1]; /* the sender, as received */
	char *dir;                         /* MOUNT/<msisdn>, or NULL */
};

/* The subscriber the sender is: the number without its '+'. Returns 0
 * with ctx->dir set, -ENOENT for a number that is no subscriber, or the
 * mount's error. */
static int find_subscriber(struct mo_ctx *ctx)
{
	const char *msisdn = ctx->number[0] == '+' ? ctx->number + 1
						   : ctx->number;
	g_autofree char *dir = NULL;
	struct stat st;

	if (!vvm_msisdn_valid(msisdn, strlen(msisdn)))
		return -ENOENT;
	dir = g_build_filename(ctx->cfg->mount, msisdn, NULL);
	if (stat(dir, &st) < 0)
		return -errno;
	ctx->dir = g_steal_pointer(&dir);
	return 0;
}

/* The subscriber's app_port. */
static int stored_port(const struct mo_ctx *ctx, int *port_r)
{
	g_autofree char *text = NULL;
	guint64 port;
	int ret = profile_get_at(ctx->dir, "app_port", &text);

	if (ret < 0)
		return ret;
	if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT16, &port,
					NULL))
		return -EIO;
	*port_r = (int)port;
	return 0;
}

/* "//VVM:STATUS:st=U;rc=<rc>" (the prefix and port the client asked for,
 * else the subscriber's, else the defaults), queued through the outbox
 * like every answer. A stored prefix or port that cannot be read is an
 * error (the MO is offered again), never the default: the answer would
 * go where the client does not listen. */
static int answer_failure(struct mo_ctx *ctx, int rc, const char *prefix,
			  int port)
{
	g_autofree char *stored_prefix = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GString) entry_text = g_string_new(NULL);
	g_autofree char *outbox = g_build_filename(ctx->cfg->mount, ".outbox",
						   "sms", NULL);
	struct vvm_sms_status status;
	struct vvm_sms_entry entry = { .kind = VVM_SMS_ENTRY_STATUS,
				       .replace = true };
	int ret = 0;

	if (ctx->dir != NULL && (prefix == NULL || *prefix == '\0'))
		ret = profile_get_at(ctx->dir, "client_prefix",
				     &stored_prefix);
	if (ret == 0 && ctx->dir != NULL && port < 0)
		ret = stored_port(ctx, &port);
	if (ret < 0)
		return ret;
	vvm_sms_status_init(&status);
	status.st = 'U';
	status.rc = (unsigned)rc;
	if (vvm_sms_status_encode(prefix != NULL && *prefix != '\0' ? prefix
				  : stored_prefix, &status, 0, text, NULL) < 0)
		return -EINVAL;
	g_strlcpy(entry.to, ctx->number, sizeof(entry.to));
	entry.port = (uint16_t)CLAMP(port, 0, G_MAXUINT16);
	entry.text_len = text->len;
	memcpy(entry.text, text->str, text->len);
	vvm_sms_entry_format(&entry, entry_text);
	return mount_setxattr(outbox, -1, "user.vvm.enqueue", entry_text->str);
}

/* Stores what the client said of itself; absent fields keep their
 * values. */
static int store_client(const struct mo_ctx *ctx, const struct vvm_sms_mo *mo)
{
	g_autofree char *port = g_strdup_printf("%d", mo->pt);
	int ret = 0;

	if (mo->ct[0] != '\0')
		ret = profile_set_at(ctx->dir, "client_type", mo->ct);
	if (ret == 0 && mo->pt >= 0)
		ret = profile_set_at(ctx->dir, "app_port", port);
	if (ret == 0 && mo->prefix[0] != '\0')
		ret = profile_set_at(ctx->dir, "client_prefix", mo->prefix);
	return ret;
}

/* The status the command leads to from status, or status itself when it
 * changes nothing (the answer is then the current status). */
static char target_status(enum vvm_sms_mo_command command, char status)
{
	if (command == VVM_SMS_MO_ACTIVATE && status == 'P')
		return 'N';
	if (command == VVM_SMS_MO_DEACTIVATE &&
	    (status == 'N' || status == 'R'))
		return 'P';
	return status;
}

/* A change of status queues its STATUS in vvmfs with it; no change asks
 * vvmfs for the STATUS as it stands. */
static int apply_status(const struct mo_ctx *ctx, char from, char to)
{
	char value[2] = { to, '\0' };

	if (from == to)
		return mount_setxattr(ctx->dir, -1, "user.vvm.notify",
				      "STATUS");
	return profile_set_at(ctx->dir, "status", value);
}

static int apply(struct mo_ctx *ctx, const struct vvm_sms_mo *mo)
{
	g_autofree char *status = NULL;
	char to;
	int ret = find_subscriber(ctx);

	if (ret == -ENOENT) {
		syslog(LOG_NOTICE, "MO %s from %s: no such subscriber",
		       command_names[mo->command], ctx->number);
		return answer_failure(ctx, VVM_SMS_RC_MAILBOX_UNKNOWN,
				      mo->prefix, mo->pt);
	}
	if (ret < 0)
		return ret;
	if (mo->ct[0] != '\0' &&
	    !vvm_client_known(ctx->cfg->known_clients, mo->ct)) {
		syslog(LOG_NOTICE, "MO %s from %s: unknown client type %s",
		       command_names[mo->command], ctx->number, mo->ct);
		return answer_failure(ctx, VVM_SMS_RC_CLIENT_UNKNOWN,
				      mo->prefix, mo->pt);
	}
	ret = profile_get_at(ctx->dir, "status", &status);
	if (ret == 0)
		ret = store_client(ctx, mo);
	if (ret < 0)
		return ret;
	to = target_status(mo->command, status[0]);
	ret = apply_status(ctx, status[0], to);
	if (ret == 0)
		syslog(LOG_INFO, "MO %s from %s: status %c -> %c",
		       command_names[mo->command], ctx->number, status[0], to);
	return ret;
}

int smsd_mo_apply(const struct smsd_config *cfg, const char *source,
		  const char *text, size_t len)
{
	struct mo_ctx ctx = { .cfg = cfg };
	struct vvm_sms_mo mo;
	const char *reason = NULL;
	int rc = VVM_SMS_RC_NONE;
	int ret;

	if (!vvm_msisdn_valid(source[0] == '+' ? source + 1 : source,
			      strlen(source) - (source[0] == '+'))) {
		syslog(LOG_NOTICE, "MO from a sender that is no phone number: "
		       "ignored");
		return 0;
	}
	g_strlcpy(ctx.number, source, sizeof(ctx.number));
	if (vvm_sms_mo_parse(text, len, &mo, &rc, &reason) < 0) {
		syslog(LOG_NOTICE, "MO from %s refused: %s%s", ctx.number,
		       reason, rc == VVM_SMS_RC_NONE ? " (not answered)" : "");
		if (rc == VVM_SMS_RC_NONE)
			return 0;
		ret = find_subscriber(&ctx);
		ret = ret == 0 || ret == -ENOENT
			? answer_failure(&ctx, rc, NULL, -1) : ret;
	} else {
		ret = apply(&ctx, &mo);
	}
	/* A value vvmfs refuses will be refused again: no redelivery. */
	if (ret == -EINVAL) {
		syslog(LOG_WARNING, "MO from %s: refused by vvmfs", ctx.number);
		ret = 0;
	} else if (ret < 0) {
		syslog(LOG_ERR, "MO from %s: %s", ctx.number, g_strerror(-ret));
	}
	g_free(ctx.dir);
	return ret;
}
