#include "smsd-config.h"

#include <errno.h>
#include <string.h>
#include <glib.h>

#include "vvm-config.h"

#define S "smsd"

static int load_numbers(GKeyFile *kf, struct smsd_config *c, char **error_r)
{
	const struct vvm_config_number numbers[] = {
		{ S, "poll_ms", &c->poll_ms, 250, 10, 60000 },
		{ S, "retry_max", &c->retry_max_s, 300, 1, 86400 },
		{ S, "source_ton", &c->source_ton, 1, 0, 6 },
		{ S, "source_npi", &c->source_npi, 1, 0, 18 },
		{ S, "dest_ton", &c->dest_ton, 1, 0, 6 },
		{ S, "dest_npi", &c->dest_npi, 1, 0, 18 },
		{ S, "protocol_id", &c->protocol_id, 64, 0, 255 },
		{ S, "text_data_coding", &c->text_data_coding, 0, 0, 3 },
		{ S, "src_port", &c->src_port, 0, 0, 65535 },
		{ S, "smsc_port", &c->smsc_port, 2775, 1, 65535 },
		{ S, "window", &c->window, 10, 1, 1000 },
		{ S, "enquire_link", &c->enquire_link_s, 30, 1, 3600 },
		{ S, "response_timeout", &c->response_timeout_s, 10, 1, 600 },
		{ S, "reconnect_min", &c->reconnect_min_s, 1, 1, 3600 },
		{ S, "reconnect_max", &c->reconnect_max_s, 60, 1, 3600 },
		{ S, "command_timeout", &c->command_timeout_s, 30, 1, 3600 },
		{ S, "http_timeout", &c->http_timeout_s, 30, 1, 3600 },
	};
	int ret = vvm_config_numbers(kf, numbers, G_N_ELEMENTS(numbers),
				     error_r);

	if (ret < 0)
		return ret;
	if (c->reconnect_max_s < c->reconnect_min_s) {
		*error_r = g_strdup("[smsd] reconnect_max is below reconnect_min");
		return -EINVAL;
	}
	return 0;
}

static int parse_mode(const char *text, enum smsd_mode *mode_r,
		      char **error_r)
{
	static const char *const names[] = { "smpp", "command", "http" };

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		if (strcmp(text, names[i]) == 0) {
			*mode_r = (enum smsd_mode)i;
			return 0;
		}
	}
	*error_r = g_strdup("[smsd] mode: smpp, command or http");
	return -EINVAL;
}

/* The annex's key: 24 bytes as 48 hexadecimal digits. */
static int parse_key(const char *hex, uint8_t *key, char **error_r)
{
	if (strlen(hex) != 2 * VVM_SMS_KEY_LEN) {
		*error_r = g_strdup("[smsd] des3_key: 48 hexadecimal digits");
		return -EINVAL;
	}
	for (size_t i = 0; i < VVM_SMS_KEY_LEN; i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]);
		int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			*error_r = g_strdup("[smsd] des3_key: 48 hexadecimal digits");
			return -EINVAL;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* SMPP C-Octet strings have fixed sizes: a longer value would be cut. */
static int fits(const char *key, const char *value, size_t max,
		char **error_r)
{
	if (value != NULL && strlen(value) > max) {
		*error_r = g_strdup_printf("[smsd] %s: at most %zu characters",
					   key, max);
		return -EINVAL;
	}
	return 0;
}

static void load_strings(GKeyFile *kf, struct smsd_config *c)
{
	static const char *const service_keys[SMSD_SERVICES] = {
		"service_type_inbox", "service_type_greeting",
		"service_type_status", "service_type_otp",
	};
	static const char *const service_defaults[SMSD_SERVICES] = {
		"VVMIN", "VVMGR", "VVMST", "",
	};
	g_autofree char *imap_mount = vvm_config_string(kf, "imap", "mount",
							 "/srv/vvm/mnt");
	g_auto(GStrv) known = vvm_config_list(kf, "imap", "known_clients",
					      NULL);

	c->mount = vvm_config_string(kf, S, "mount", imap_mount);
	c->source_addr = vvm_config_string(kf, S, "source_addr", "");
	for (int i = 0; i < SMSD_SERVICES; i++)
		c->service_types[i] = vvm_config_string(kf, S, service_keys[i],
							service_defaults[i]);
	c->known_clients = g_key_file_has_key(kf, S, "known_clients", NULL)
		? vvm_config_list(kf, S, "known_clients", NULL)
		: g_strdupv(known);
	c->smsc_host = vvm_config_string(kf, S, "smsc_host", NULL);
	c->system_id = vvm_config_string(kf, S, "system_id", "vvm");
	c->password = vvm_config_string(kf, S, "password", "");
	c->system_type = vvm_config_string(kf, S, "system_type", "VVM");
	c->command = vvm_config_string(kf, S, "sms_command", NULL);
	c->http_url = vvm_config_string(kf, S, "http_url", NULL);
	c->http_username = vvm_config_string(kf, S, "http_username", NULL);
	c->http_password = vvm_config_string(kf, S, "http_password", NULL);
}

static int check_strings(const struct smsd_config *c, char **error_r)
{
	int ret = fits("source_addr", c->source_addr, 20, error_r);

	for (int i = 0; ret == 0 && i < SMSD_SERVICES; i++)
		ret = fits("service_type_*", c->service_types[i], 5, error_r);
	if (ret == 0)
		ret = fits("system_id", c->system_id, 15, error_r);
	if (ret == 0)
		ret = fits("password", c->password, 8, error_r);
	if (ret == 0)
		ret = fits("system_type", c->system_type, 12, error_r);
	return ret;
}

/* Each mode needs its peer named. */
static int check_mode(const struct smsd_config *c, char **error_r)
{
	const char *missing = c->mode == SMSD_MODE_SMPP && c->smsc_host == NULL
		? "smsc_host"
		: c->mode == SMSD_MODE_COMMAND && c->command == NULL
		? "sms_command"
		: c->mode == SMSD_MODE_HTTP && c->http_url == NULL ? "http_url"
								   : NULL;

	g_auto(GStrv) argv = NULL;

	if (missing != NULL) {
		*error_r = g_strdup_printf("[smsd] %s is needed in this mode",
					   missing);
		return -EINVAL;
	}
	if (c->command != NULL &&
	    !g_shell_parse_argv(c->command, NULL, &argv, NULL)) {
		*error_r = g_strdup("[smsd] sms_command: not a command line");
		return -EINVAL;
	}
	return 0;
}

int smsd_config_load(const char *file, struct smsd_config *config_r,
		     char **error_r)
{
	g_autoptr(GKeyFile) kf = NULL;
	g_autofree char *mode = NULL;
	g_autofree char *key = NULL;
	struct smsd_config c = { 0 };
	int ret = vvm_config_open(file, &kf, error_r);

	if (ret < 0)
		return ret;
	load_strings(kf, &c);
	mode = vvm_config_string(kf, S, "mode", "smpp");
	key = vvm_config_string(kf, S, "des3_key", NULL);
	ret = parse_mode(mode, &c.mode, error_r);
	if (ret == 0 && key != NULL) {
		ret = parse_key(key, c.key, error_r);
		c.encrypt = ret == 0;
	}
	if (ret == 0)
		ret = load_numbers(kf, &c, error_r);
	if (ret == 0)
		ret = check_strings(&c, error_r);
	if (ret == 0)
		ret = check_mode(&c, error_r);
	if (ret < 0) {
		vvm_config_error_in(file, error_r);
		smsd_config_clear(&c);
		return ret;
	}
	*config_r = c;
	return 0;
}

void smsd_config_clear(struct smsd_config *c)
{
	g_free(c->mount);
	g_free(c->source_addr);
	for (int i = 0; i < SMSD_SERVICES; i++)
		g_free(c->service_types[i]);
	g_strfreev(c->known_clients);
	g_free(c->smsc_host);
	g_free(c->system_id);
	g_free(c->password);
	g_free(c->system_type);
	g_free(c->command);
	g_free(c->http_url);
	g_free(c->http_username);
	g_free(c->http_password);
	memset(c->key, 0, sizeof(c->key));
	memset(c, 0, sizeof(*c));
}
