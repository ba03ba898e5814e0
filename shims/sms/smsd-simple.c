/* vvm-smsd for small sites: no SMPP bind of its own.
 *
 * command: [smsd] sms_command is run once per outbox entry, as argv (no
 * shell), with %n the number, %p the port, %k the kind, %s the entry's
 * sequence number and %% a '%'. Its standard input is the text; the
 * environment adds VVM_SMS_TO, _PORT, _KIND, _SEQ, _DATA_CODING,
 * _ESM_CLASS, _PROTOCOL_ID, _PARTS and _PART_1.. (each short message,
 * UDH included, in hex). Exit status 0 means the SMS was accepted.
 *
 * http: one GET per short message to [smsd] http_url with the parameters
 * of Kannel's sendsms (username, password, from, to, text, udh, coding,
 * charset, pid); any 2xx means accepted.
 *
 * An entry is unlinked once accepted whole, as in SMPP mode. */
#include "smsd-esme.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <curl/curl.h>

#include "smsd-outbox.h"

extern char **environ;

void smsd_sleep(int ms)
{
	poll(NULL, 0, ms);
}

static char *hex(GBytes *bytes)
{
	gsize len;
	const uint8_t *p = g_bytes_get_data(bytes, &len);
	GString *out = g_string_sized_new(len * 2 + 1);

	for (gsize i = 0; i < len; i++)
		g_string_append_printf(out, "%02x", p[i]);
	return g_string_free(out, FALSE);
}

/* One argument of the command with %n, %p, %k, %s and %% replaced. */
static char *expand(const char *arg, const struct smsd_item *item,
		    const char *port, const char *kind)
{
	GString *out = g_string_new(NULL);
	g_autofree char *seq = g_strdup_printf("%" G_GUINT64_FORMAT,
					       item->seq);

	for (const char *p = arg; *p != '\0'; p++) {
		const char *with = NULL;

		if (*p == '%' && p[1] != '\0') {
			switch (p[1]) {
			case 'n': with = item->out->to; break;
			case 'p': with = port; break;
			case 'k': with = kind; break;
			case 's': with = seq; break;
			case '%': with = "%"; break;
			}
		}
		if (with == NULL) {
			g_string_append_c(out, *p);
			continue;
		}
		g_string_append(out, with);
		p++;
	}
	return g_string_free(out, FALSE);
}

static char **command_env(const struct smsd_item *item, const char *port,
			  const char *kind)
{
	const struct smsd_out *o = item->out;
	char **env = g_get_environ();

	env = g_environ_setenv(env, "VVM_SMS_TO", o->to, TRUE);
	env = g_environ_setenv(env, "VVM_SMS_PORT", port, TRUE);
	env = g_environ_setenv(env, "VVM_SMS_KIND", kind, TRUE);
	for (guint i = 0; i < o->segments->len; i++) {
		g_autofree char *name = g_strdup_printf("VVM_SMS_PART_%u", i + 1);
		g_autofree char *value = hex(g_ptr_array_index(o->segments, i));

		env = g_environ_setenv(env, name, value, TRUE);
	}
	{
		g_autofree char *seq = g_strdup_printf("%" G_GUINT64_FORMAT,
						       item->seq);
		g_autofree char *dc = g_strdup_printf("%u", o->data_coding);
		g_autofree char *esm = g_strdup_printf("%u", o->esm_class);
		g_autofree char *pid = g_strdup_printf("%u", o->protocol_id);
		g_autofree char *parts = g_strdup_printf("%u", o->segments->len);

		env = g_environ_setenv(env, "VVM_SMS_SEQ", seq, TRUE);
		env = g_environ_setenv(env, "VVM_SMS_DATA_CODING", dc, TRUE);
		env = g_environ_setenv(env, "VVM_SMS_ESM_CLASS", esm, TRUE);
		env = g_environ_setenv(env, "VVM_SMS_PROTOCOL_ID", pid, TRUE);
		env = g_environ_setenv(env, "VVM_SMS_PARTS", parts, TRUE);
	}
	return env;
}

/* Waits for pid up to seconds, then kills it. Returns its wait status,
 * or -ETIMEDOUT. */
static int wait_child(pid_t pid, unsigned seconds)
{
	int pidfd = pidfd_open(pid, 0);
	int status, ret = 0;

	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		if (poll(&p, 1, (int)seconds * 1000) == 0) {
			kill(pid, SIGKILL);
			ret = -ETIMEDOUT;
		}
		close(pidfd);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return ret < 0 ? ret : status;
}

/* The entry's text on the command's standard input, from a memfd so that
 * a command that does not read it cannot block us. */
static int text_fd(GBytes *text)
{
	gsize len;
	const char *data = g_bytes_get_data(text, &len);
	int fd = memfd_create("vvm-smsd-text", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static char **command_argv(const struct smsd_config *cfg,
			   const struct smsd_item *item, const char *port,
			   const char *kind)
{
	char **argv = NULL;

	/* Checked when the config was loaded. */
	if (!g_shell_parse_argv(cfg->command, NULL, &argv, NULL))
		return NULL;
	for (char **a = argv; *a != NULL; a++) {
		char *expanded = expand(*a, item, port, kind);

		g_free(*a);
		*a = expanded;
	}
	return argv;
}

static bool run_command(const struct smsd_config *cfg,
			const struct smsd_item *item)
{
	g_autofree char *port = g_strdup_printf("%u", item->out->port);
	const char *kind = vvm_sms_entry_kind_name(item->out->kind);
	g_auto(GStrv) argv = command_argv(cfg, item, port, kind);
	g_auto(GStrv) env = command_env(item, port, kind);
	posix_spawn_file_actions_t actions;
	pid_t pid;
	int fd, ret, status;

	fd = argv != NULL ? text_fd(item->out->text) : -EINVAL;
	if (fd < 0)
		return false;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, fd, 0);
	ret = posix_spawnp(&pid, argv[0], &actions, NULL, argv, env);
	posix_spawn_file_actions_destroy(&actions);
	close(fd);
	if (ret != 0) {
		syslog(LOG_ERR, "cannot run %s: %s", argv[0], g_strerror(ret));
		return false;
	}
	status = wait_child(pid, cfg->command_timeout_s);
	if (status == -ETIMEDOUT)
		syslog(LOG_WARNING, "outbox %" G_GUINT64_FORMAT ": %s ran past "
		       "%u s and was killed", item->seq, argv[0],
		       cfg->command_timeout_s);
	else if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		syslog(LOG_WARNING, "outbox %" G_GUINT64_FORMAT ": %s failed "
		       "(wait status %d)", item->seq, argv[0], status);
	return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Appends "&name=value" (the first without '&'), value URL-encoded. */
static void add_param(CURL *curl, GString *url, const char *name,
		      const void *value, size_t len)
{
	char *escaped = curl_easy_escape(curl, value, (int)len);

	g_string_append_printf(url, "%c%s=%s",
			       strchr(url->str, '?') != NULL ? '&' : '?', name,
			       escaped);
	curl_free(escaped);
}

static void add_string(CURL *curl, GString *url, const char *name,
		       const char *value)
{
	if (value != NULL && *value != '\0')
		add_param(curl, url, name, value, strlen(value));
}

/* Kannel's sendsms for one short message: the UDH apart from the text,
 * coding 1 for 8-bit data, 2 (with the charset of the bytes) for UCS-2. */
static char *sendsms_url(CURL *curl, const struct smsd_config *cfg,
			 const struct smsd_out *o, guint i)
{
	GString *url = g_string_new(cfg->http_url);
	GBytes *segment = g_ptr_array_index(o->segments, i);
	gsize len;
	const uint8_t *sm = g_bytes_get_data(segment, &len);
	size_t udh = (o->esm_class & SMSD_ESM_UDHI) != 0 && len > 0
		     ? MIN((size_t)sm[0] + 1, len) : 0;
	char number[8];

	add_string(curl, url, "username", cfg->http_username);
	add_string(curl, url, "password", cfg->http_password);
	add_string(curl, url, "from", cfg->source_addr);
	add_string(curl, url, "to", o->to);
	add_param(curl, url, "text", sm + udh, len - udh);
	if (udh > 0)
		add_param(curl, url, "udh", sm, udh);
	g_snprintf(number, sizeof(number), "%d",
		   o->data_coding == SMSD_DC_8BIT ? 1
		   : o->data_coding == SMSD_DC_UCS2 ? 2 : 0);
	add_string(curl, url, "coding", number);
	if (o->data_coding == SMSD_DC_UCS2)
		add_string(curl, url, "charset", "UTF-16BE");
	if (o->protocol_id != 0) {
		g_snprintf(number, sizeof(number), "%u", o->protocol_id);
		add_string(curl, url, "pid", number);
	}
	return g_string_free(url, FALSE);
}

static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
	return size * n;
}

/* Returns the HTTP status, or 0 when there was none. */
static long http_get(CURL *curl, const struct smsd_config *cfg,
		     const char *url)
{
	long code = 0;

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)cfg->http_timeout_s);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

/* One short message to the gateway; logs a refusal (never the URL, which
 * holds the password and, for a STATUS, the subscriber's). */
static bool send_http(CURL *curl, const struct smsd_config *cfg,
		      const struct smsd_item *item, guint i, bool *soon_r)
{
	g_autofree char *url = sendsms_url(curl, cfg, item->out, i);
	long code = http_get(curl, cfg, url);

	*soon_r = code == 503;
	if (code >= 200 && code < 300)
		return true;
	syslog(LOG_WARNING, "outbox %" G_GUINT64_FORMAT ": the gateway "
	       "answered %ld", item->seq, code);
	return false;
}

static void report(struct smsd_outbox *ob, struct smsd_item *item,
		   bool accepted, bool soon)
{
	if (accepted && item->accepted + 1 == item->out->segments->len)
		syslog(LOG_INFO, "outbox %" G_GUINT64_FORMAT ": sent to %s",
		       item->seq, item->out->to);
	smsd_outbox_result(ob, item, accepted, soon, g_get_monotonic_time());
}

/* Sends what may go now; returns how many short messages (or entries)
 * went. */
static unsigned send_ready(const struct smsd_config *cfg,
			   struct smsd_outbox *ob, CURL *curl,
			   volatile sig_atomic_t *stop)
{
	struct smsd_item *item;
	unsigned sent = 0;
	guint i;
	bool soon = false;

	while (!*stop) {
		int64_t now = g_get_monotonic_time();

		if (cfg->mode == SMSD_MODE_COMMAND) {
			bool ok;

			item = smsd_outbox_next_entry(ob, now);
			if (item == NULL)
				break;
			ok = run_command(cfg, item);
			for (i = item->out->segments->len; i > 0; i--)
				report(ob, item, ok, false);
		} else {
			bool ok;

			item = smsd_outbox_next(ob, now, &i);
			if (item == NULL)
				break;
			ok = send_http(curl, cfg, item, i, &soon);
			report(ob, item, ok, soon);
		}
		sent++;
	}
	return sent;
}

int smsd_simple_run(const struct smsd_config *cfg, bool once,
		    volatile sig_atomic_t *stop)
{
	struct smsd_outbox *ob = smsd_outbox_create(cfg);
	CURL *curl = NULL;

	if (cfg->mode == SMSD_MODE_HTTP) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		curl = curl_easy_init();
	}
	while (!*stop) {
		int loaded = smsd_outbox_scan(ob);

		if (send_ready(cfg, ob, curl, stop) == 0 && loaded <= 0) {
			smsd_outbox_settle(ob);
			if (once && smsd_outbox_idle(ob))
				break;
			smsd_sleep((int)cfg->poll_ms);
		}
		smsd_outbox_reap(ob);
	}
	if (curl != NULL) {
		curl_easy_cleanup(curl);
		curl_global_cleanup();
	}
	smsd_outbox_destroy(&ob);
	return 0;
}
