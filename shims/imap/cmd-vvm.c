/* The VVM self-care commands (spec "VVM Self-care", "Close NUT",
 * "Transcription"). Each answers with one tagged line holding the spec's
 * bare text, which is what deployed clients match on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "imap-commands.h"
#include "imap-login.h"
#include "imap-mount.h"
#include "vvm-login.h"

/* Splits the arguments "KEY=value" by the keys the command knows (any
 * case, each at most once). Returns false on anything else. */
static bool kv_args(const struct imap_command *cmd, const char *const *keys,
		    const char **values)
{
	for (unsigned int i = 0; i < cmd->count; i++) {
		const char *arg;
		if (!imap_arg_get_atom(&cmd->args[i], &arg) &&
		    !imap_arg_get_string(&cmd->args[i], &arg))
			return false;
		const char *eq = strchr(arg, '=');
		if (eq == NULL)
			return false;
		size_t key_len = (size_t)(eq - arg);
		bool known = false;
		for (unsigned int k = 0; keys[k] != NULL && !known; k++) {
			if (strlen(keys[k]) != key_len ||
			    g_ascii_strncasecmp(keys[k], arg, key_len) != 0)
				continue;
			if (values[k] != NULL)
				return false;
			values[k] = eq + 1;
			known = true;
		}
		if (!known)
			return false;
	}
	return true;
}

static bool all_digits(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!g_ascii_isdigit(*s))
			return false;
	}
	return true;
}

/* 1111, 1234 and 9876 are the first PINs anyone tries. */
static bool weak_pin(const char *pin)
{
	size_t len = strlen(pin);
	bool same = true, up = true, down = true;

	for (size_t i = 1; i < len; i++) {
		same = same && pin[i] == pin[0];
		up = up && pin[i] == pin[i - 1] + 1;
		down = down && pin[i] == pin[i - 1] - 1;
	}
	return len > 1 && (same || up || down);
}

void cmd_xchange_tui_pwd(struct imap_session *s, const struct imap_command *cmd)
{
	static const char *const keys[] = { "PWD", "OLD_PWD", NULL };
	const char *v[2] = { NULL, NULL };
	g_autofree char *current = NULL;
	const struct imap_config *c = s->config;

	if (!kv_args(cmd, keys, v) || v[0] == NULL || v[1] == NULL) {
		imap_no(s, "unknown command");
		return;
	}
	if (!all_digits(v[0])) {
		imap_no(s, "password contains invalid characters");
		return;
	}
	if (strlen(v[0]) < c->pins.pin_min) {
		imap_no(s, "password too short");
		return;
	}
	if (strlen(v[0]) > c->pins.pin_max) {
		imap_no(s, "password too long");
		return;
	}
	if (c->reject_weak_pin && weak_pin(v[0])) {
		imap_no(s, "password too weak");
		return;
	}
	/* Guessing the PIN here is guessing it at login: the same count
	 * and lockout apply. */
	g_autofree char *dir = imap_path(s, "");
	int ret = imap_login_attempt(s, dir);
	if (ret < 0 || profile_get(s, "tui_password", &current) < 0) {
		syslog(LOG_NOTICE, "XCHANGE_TUI_PWD refused for %s: %s",
		       s->msisdn, ret == -EACCES ? "locked out" : "error");
		imap_login_attempt_failed(s);
		imap_no(s, "system error");
		return;
	}
	bool match = vvm_secret_equal(v[1], current);
	explicit_bzero(current, strlen(current));
	if (!match) {
		imap_login_failed(s);
		imap_no(s, "old password mismatch");
		return;
	}
	if (imap_login_attempt_succeeded(s) < 0 ||
	    profile_set(s, "tui_password", v[0]) < 0)
		imap_no(s, "system error");
	else
		imap_ok(s, "password changed successfully");
}

/* <lang code>[.<variant>]: up to three letters, one optional digit. */
static bool language_syntax(const char *lang)
{
	size_t letters = 0;

	while (g_ascii_isalpha(lang[letters]))
		letters++;
	if (letters == 0 || letters > 3)
		return false;
	if (lang[letters] == '\0')
		return true;
	return lang[letters] == '.' && g_ascii_isdigit(lang[letters + 1]) &&
	       lang[letters + 2] == '\0';
}

void cmd_xchange_vm_lang(struct imap_session *s, const struct imap_command *cmd)
{
	static const char *const keys[] = { "LANG", NULL };
	const char *v[1] = { NULL };
	bool offered = false;

	if (!kv_args(cmd, keys, v) || v[0] == NULL) {
		imap_no(s, "unknown command");
		return;
	}
	for (char **l = s->config->languages; *l != NULL; l++)
		offered = offered || g_ascii_strcasecmp(*l, v[0]) == 0;
	if (!language_syntax(v[0]) || !offered) {
		imap_no(s, "invalid language");
		return;
	}
	if (profile_set(s, "language", v[0]) < 0)
		imap_no(s, "system problem");
	else
		imap_ok(s, "language changed successfully");
}

void cmd_xchange_gen_options(struct imap_session *s,
			     const struct imap_command *cmd)
{
	static const char *const keys[] = { "OPTIONSSTRING", NULL };
	const char *v[1] = { NULL };

	if (!kv_args(cmd, keys, v) || v[0] == NULL) {
		imap_no(s, "unknown command");
		return;
	}
	bool hex = strlen(v[0]) == 4;
	for (const char *p = v[0]; *p != '\0'; p++)
		hex = hex && g_ascii_isxdigit(*p);
	if (!hex) {
		imap_no(s, "invalid value");
		return;
	}
	if (profile_set(s, "options", v[0]) < 0)
		imap_no(s, "system problem");
	else
		imap_ok(s, "optionsstring changed successfully");
}

void cmd_xclose_nut(struct imap_session *s, const struct imap_command *cmd)
{
	g_autofree char *status = NULL;

	if (cmd->count != 0) {
		imap_no(s, "unknown command");
		return;
	}
	if (profile_get(s, "status", &status) < 0) {
		imap_no(s, "system error");
		return;
	}
	/* Only N -> R: a session must not undo a block or a deactivation
	 * made while it was open. vvmfs queues the STATUS SMS in the same
	 * transaction. */
	if (strcmp(status, "R") == 0 ||
	    (strcmp(status, "N") == 0 && profile_set(s, "status", "R") == 0))
		imap_ok(s, "NUT closed");
	else
		imap_no(s, "system error");
}

void cmd_xtranscribe(struct imap_session *s, const struct imap_command *cmd)
{
	static const char *const keys[] = { "UID", NULL };
	const char *v[1] = { NULL };
	uint32_t uid;
	struct stat st;

	if (!kv_args(cmd, keys, v) || v[0] == NULL ||
	    imap_parse_nz_number(v[0], &uid) < 0) {
		imap_no(s, "unknown command");
		return;
	}
	g_autofree char *rel = g_strdup_printf("INBOX/%u.eml", uid);
	g_autofree char *path = imap_path(s, rel);
	if (stat(path, &st) < 0) {
		imap_no(s, errno == ENOENT ? "invalid UID" : "system error");
		return;
	}
	imap_no(s, "transcription service not available");
}

static bool iso_date(const char *d)
{
	int y, m, day;
	char tail;

	return strlen(d) == 10 && d[4] == '-' && d[7] == '-' &&
	       sscanf(d, "%4d-%2d-%2d%c", &y, &m, &day, &tail) == 3 &&
	       g_date_valid_dmy((GDateDay)day, (GDateMonth)m, (GDateYear)y);
}

void cmd_xtranscription_service(struct imap_session *s,
				const struct imap_command *cmd)
{
	static const char *const keys[] = { "STATE", "EXP_DATE",
					    "SUB_DURATION", NULL };
	const char *v[3] = { NULL, NULL, NULL };
	uint32_t months = 1;

	if (!kv_args(cmd, keys, v) || v[0] == NULL ||
	    (g_ascii_strcasecmp(v[0], "START") != 0 &&
	     g_ascii_strcasecmp(v[0], "STOP") != 0) ||
	    (v[1] != NULL && !iso_date(v[1])) ||
	    (v[2] != NULL && (imap_parse_nz_number(v[2], &months) < 0 ||
			      months > 24))) {
		imap_no(s, "unknown command");
		return;
	}
	/* CNS5's text for a service that cannot be reached: there is no
	 * transcription engine yet. */
	imap_no(s, "Transcription service unreachable");
}
