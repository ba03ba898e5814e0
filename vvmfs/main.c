/* vvmfs [-f] [-o opts] STORE_DIR MOUNTPOINT
 *
 * Opens the store, mounts it and serves it with a pool of threads until
 * SIGTERM, SIGINT or an unmount; then unmounts cleanly and closes the
 * store. */
#include "fs.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vvm-config.h"

#define DEFAULT_CONFIG "/etc/vvm/vvm.conf"

struct cmdline {
	char *config_file;
	char *max_message_size;
	char *retention_interval;
	char *owner;
	char *store_dir;
};

#define OPT(t, p) { t, offsetof(struct cmdline, p), 0 }
static const struct fuse_opt vvmfs_opts[] = {
	OPT("config=%s", config_file),
	OPT("max_message_size=%s", max_message_size),
	OPT("retention_interval=%s", retention_interval),
	OPT("owner=%s", owner),
	FUSE_OPT_END
};

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct cmdline *cmd = data;

	/* The first non-option is the store; the second the mountpoint,
	 * which fuse_parse_cmdline() takes. */
	if (key == FUSE_OPT_KEY_NONOPT && cmd->store_dir == NULL) {
		cmd->store_dir = g_strdup(arg);
		return 0;
	}
	return 1;
}

static void usage(const char *prog)
{
	printf("usage: %s [-f] [-o opts] STORE_DIR MOUNTPOINT\n\n"
	       "vvmfs options:\n"
	       "    -o config=FILE               vvm config (default %s)\n"
	       "    -o max_message_size=BYTES    largest message (32 MiB)\n"
	       "    -o retention_interval=SECS   Expires check period (60)\n"
	       "    -o owner=USER                owner of all files (root)\n\n",
	       prog, DEFAULT_CONFIG);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

static bool parse_u64(const char *text, uint64_t min, uint64_t max,
		      uint64_t *value_r)
{
	char *end;
	guint64 v;

	if (text == NULL || !g_ascii_isdigit(text[0]))
		return false;
	v = g_ascii_strtoull(text, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return false;
	*value_r = v;
	return true;
}

static char **srv_bare_clients;

/* What STATUS SMS say about this deployment, from [sms]; its strings are
 * kept for the daemon's life. A number or switch that is there but
 * malformed is an error (*error_r), never the default. */
static int load_sms_config(GKeyFile *kf, struct ms_sms_config *sms,
			   char **error_r)
{
	static const struct {
		const char *key;
		size_t offset;
	} strings[] = {
		{ "server", offsetof(struct ms_sms_config, srv) },
		{ "tui_number", offsetof(struct ms_sms_config, tui) },
		{ "mo_number", offsetof(struct ms_sms_config, dn) },
		{ "languages", offsetof(struct ms_sms_config, lang) },
		{ "subscribe_url", offsetof(struct ms_sms_config, rs) },
	};
	const struct vvm_config_number numbers[] = {
		{ "sms", "imap_port", &sms->ipt, sms->ipt, 1, 65535 },
		/* 0: no SMTP deposit */
		{ "sms", "smtp_port", &sms->spt, sms->spt, 0, 65535 },
		{ "sms", "greeting_seconds", &sms->g_len, sms->g_len, 0, 999 },
	};
	int ret = 0;

	for (size_t i = 0; i < G_N_ELEMENTS(strings); i++) {
		char *value = g_key_file_get_string(kf, "sms", strings[i].key,
						    NULL);

		if (value == NULL)
			continue;
		/* Interned: the settings live as long as the process. */
		*(const char **)((char *)sms + strings[i].offset) =
			g_intern_string(value);
		g_free(value);
	}
	ret = vvm_config_numbers(kf, numbers, G_N_ELEMENTS(numbers), error_r);
	if (ret == 0)
		ret = vvm_config_bool(kf, "sms", "server_bare", sms->srv_bare,
				      &sms->srv_bare, error_r);
	if (ret < 0)
		return ret;
	/* Kept for the daemon's life, as the strings above. */
	srv_bare_clients = g_key_file_get_string_list(
		kf, "sms", "server_bare_clients", NULL, NULL);
	sms->srv_bare_clients = (const char *const *)srv_bare_clients;
	return 0;
}

/* [imap] and [smtp] max_sessions: a limit that read as unlimited by
 * mistake would lift the spec's cap silently. */
static int load_max_sessions(GKeyFile *kf, unsigned *limits, char **error_r)
{
	int ret = 0;

	for (int i = 0; ret == 0 && i < SESSION_LIMITED; i++)
		ret = vvm_config_uint(kf, session_proto_name(i),
				      "max_sessions", limits[i], 0, G_MAXINT,
				      &limits[i], error_r);
	return ret;
}

/* Every inode reports owner's uid and primary group, so that shims that
 * chroot into a subscriber and drop root to owner can still use it with
 * default_permissions on. Only root can mount for another user. */
static int set_owner(struct vvmfs *fs, const char *owner)
{
	struct passwd *pw;

	fs->uid = getuid();
	fs->gid = getgid();
	if (owner == NULL)
		return 0;
	if (getuid() != 0) {
		fprintf(stderr, "vvmfs: owner=%s needs vvmfs to run as root\n",
			owner);
		return -1;
	}
	errno = 0;
	pw = getpwnam(owner);
	if (pw == NULL) {
		fprintf(stderr, "vvmfs: owner=%s: %s\n", owner,
			errno != 0 ? g_strerror(errno) : "no such user");
		return -1;
	}
	fs->uid = pw->pw_uid;
	fs->gid = pw->pw_gid;
	return 0;
}

/* [media]: the worker, its budget and the Content-Duration policy. A
 * value that is not what it should be stops vvmfs at start. */
static int load_media(GKeyFile *kf, struct vvmfs *fs, char **error_r)
{
	struct media_budget *budget = &fs->options.media_budget;
	/* 0 in the budget is its default (media_budget_defaults()). */
	const struct vvm_config_number limits[] = {
		{ "media", "max_seconds", &budget->wall_seconds, 0, 1,
		  86400 * 1024 },
		{ "media", "max_cpu_seconds", &budget->cpu_seconds, 0, 1,
		  86400 * 1024 },
		{ "media", "max_memory_mb", &budget->memory_mb, 0, 1,
		  86400 * 1024 },
	};
	g_autofree char *policy = vvm_config_string(kf, "media",
						    "duration_mismatch", NULL);
	int ret;

	fs->options.media_worker = media_worker_path(kf);
	media_worker_use_registry(kf);
	ret = vvm_config_numbers(kf, limits, G_N_ELEMENTS(limits), error_r);
	if (ret < 0)
		return ret;
	if (policy != NULL && strcmp(policy, "reject") != 0 &&
	    strcmp(policy, "correct") != 0) {
		*error_r = g_strdup_printf("[media] duration_mismatch: '%s' is "
					   "neither correct nor reject",
					   policy);
		return -EINVAL;
	}
	fs->options.duration_reject = policy != NULL &&
				      strcmp(policy, "reject") == 0;
	return 0;
}

/* [provision]: profile values every new subscriber starts with, each
 * checked as a write of it would be, so that a bad one stops vvmfs at
 * start instead of every provisioning. */
static int load_provision(GKeyFile *kf, struct ms_options *ms_opts,
			  char **error_r)
{
	g_auto(GStrv) names = g_key_file_get_keys(kf, "provision", NULL, NULL);

	for (char **name = names; name != NULL && *name != NULL; name++) {
		const struct vvm_profile_key *pkey = vvm_profile_key_find(*name);
		g_autofree char *value = NULL;
		const char *reason = NULL;

		if (pkey == NULL || !vvm_profile_key_presettable(pkey)) {
			*error_r = g_strdup_printf("[provision] %s: not a "
						   "profile setting a new "
						   "subscriber can be given",
						   *name);
			return -EINVAL;
		}
		value = vvm_config_string(kf, "provision", *name, "");
		if (vvm_profile_validate(pkey, &ms_opts->profile_limits, value,
					 strlen(value), &reason) < 0) {
			*error_r = g_strdup_printf("[provision] %s: %s", *name,
						   reason);
			return -EINVAL;
		}
		/* Interned: the settings live as long as the process. */
		ms_opts->provision[vvm_profile_key_index(pkey)] =
			g_intern_string(value);
	}
	return 0;
}

/* The config file's settings; *error_r names the first bad one. */
static int load_config(GKeyFile *kf, struct vvmfs *fs,
		       struct ms_options *ms_opts, char **error_r)
{
	struct vvm_profile_limits *pins = &ms_opts->profile_limits;
	const char *reason = NULL;
	uint64_t size;
	int ret;

	ret = vvm_config_u64(kf, "vvmfs", "max_message_size",
			     fs->options.max_message_size, 1, G_MAXUINT32,
			     &size, error_r);
	if (ret == 0) {
		fs->options.max_message_size = size;
		ret = vvm_config_uint(kf, "vvmfs", "retention_interval",
				      fs->options.retention_interval, 1, 86400,
				      &fs->options.retention_interval,
				      error_r);
	}
	if (ret == 0)
		ret = vvm_profile_limits_load(kf, pins, error_r);
	if (ret == 0)
		ret = load_provision(kf, ms_opts, error_r);
	if (ret == 0)
		ret = load_sms_config(kf, &ms_opts->sms, error_r);
	if (ret == 0 && ms_sms_config_check(&ms_opts->sms, pins, &reason) < 0) {
		*error_r = g_strdup_printf("[sms]: %s", reason);
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = load_max_sessions(kf, fs->options.max_sessions, error_r);
	if (ret == 0)
		ret = load_media(kf, fs, error_r);
	return ret;
}

/* Settings come from the config file, then -o options override them. */
static int load_options(struct vvmfs *fs, const struct cmdline *cmd,
			struct ms_options *ms_opts)
{
	g_autoptr(GKeyFile) kf = NULL;
	g_autofree char *error = NULL;
	g_autofree char *owner = NULL;
	uint64_t v;

	fs->options.max_message_size = 32 << 20;
	fs->options.retention_interval = 60;
	/* The spec's default: one IMAP session per subscriber. */
	fs->options.max_sessions[SESSION_IMAP] = 1;
	fs->options.max_sessions[SESSION_SMTP] = 0;
	ms_options_default(ms_opts);
	if (vvm_config_open(cmd->config_file, &kf, &error) < 0) {
		fprintf(stderr, "vvmfs: %s\n", error);
		return -1;
	}
	if (load_config(kf, fs, ms_opts, &error) < 0) {
		vvm_config_error_in(cmd->config_file, &error);
		fprintf(stderr, "vvmfs: %s\n", error);
		return -1;
	}
	owner = vvm_config_string(kf, "vvmfs", "owner", NULL);
	if (cmd->owner != NULL) {
		g_free(owner);
		owner = g_strdup(cmd->owner);
	}
	if (set_owner(fs, owner) < 0)
		return -1;
	if (cmd->max_message_size != NULL) {
		if (!parse_u64(cmd->max_message_size, 1, G_MAXUINT32, &v)) {
			fprintf(stderr, "vvmfs: bad max_message_size\n");
			return -1;
		}
		fs->options.max_message_size = v;
	}
	if (cmd->retention_interval != NULL) {
		if (!parse_u64(cmd->retention_interval, 1, 86400, &v)) {
			fprintf(stderr, "vvmfs: bad retention_interval\n");
			return -1;
		}
		fs->options.retention_interval = (unsigned)v;
	}
	if (fs->options.media_worker == NULL)
		fs->options.media_worker = media_worker_path(NULL);
	/* A rendition is a message too: its audio must fit in one. */
	fs->options.media_budget.max_input = fs->options.max_message_size;
	fs->options.media_budget.max_output = fs->options.max_message_size;
	media_budget_defaults(&fs->options.media_budget);
	index_limits_default(&fs->index_limits);
	fs->index_limits.max_size = fs->options.max_message_size;
	return 0;
}

static gpointer retention_main(gpointer data)
{
	struct vvmfs *fs = data;
	int64_t period = (int64_t)fs->options.retention_interval *
			 G_TIME_SPAN_SECOND;

	g_mutex_lock(&fs->stop_lock);
	while (!fs->stopping) {
		int64_t deadline = g_get_monotonic_time() + period;
		int purged;

		while (!fs->stopping &&
		       g_cond_wait_until(&fs->stop_cond, &fs->stop_lock,
					 deadline))
			;
		if (fs->stopping)
			break;
		g_mutex_unlock(&fs->stop_lock);
		/* Bounded batches keep one run from starving deposits. */
		do {
			purged = ms_expire(fs->ms,
					   g_get_real_time() / G_USEC_PER_SEC,
					   1000);
		} while (purged == 1000);
		if (purged < 0)
			g_warning("retention purge failed: %s",
				  g_strerror(-purged));
		g_mutex_lock(&fs->stop_lock);
	}
	g_mutex_unlock(&fs->stop_lock);
	return NULL;
}

static void retention_stop(struct vvmfs *fs)
{
	g_mutex_lock(&fs->stop_lock);
	fs->stopping = true;
	g_cond_signal(&fs->stop_cond);
	g_mutex_unlock(&fs->stop_lock);
	g_thread_join(fs->retention_thread);
}

static int serve(struct vvmfs *fs, struct fuse_args *args,
		 struct fuse_cmdline_opts *opts, const char *store_dir,
		 const struct ms_options *ms_opts)
{
	struct fuse_loop_config *loop;
	g_autofree char *error = NULL;
	int ret = -1;

	fs->se = fuse_session_new(args, &vvmfs_ops, sizeof(vvmfs_ops), fs);
	if (fs->se == NULL)
		return -1;
	if (fuse_set_signal_handlers(fs->se) != 0)
		goto out_session;
	if (fuse_session_mount(fs->se, opts->mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(opts->foreground) != 0)
		goto out_unmount;
	/* After daemonizing: RocksDB's threads would not survive the fork. */
	if (mailstore_open(store_dir, ms_opts, &fs->ms, &error) < 0) {
		fprintf(stderr, "vvmfs: %s\n", error);
		goto out_unmount;
	}
	g_mutex_init(&fs->stop_lock);
	g_cond_init(&fs->stop_cond);
	fs->retention_thread = g_thread_new("vvmfs-retention", retention_main,
					    fs);
	if (opts->singlethread) {
		ret = fuse_session_loop(fs->se);
	} else {
		loop = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(loop, opts->clone_fd);
		fuse_loop_cfg_set_max_threads(loop, opts->max_threads);
		ret = fuse_session_loop_mt(fs->se, loop);
		fuse_loop_cfg_destroy(loop);
	}
	/* The loop returns the signal that ended it: a clean stop. */
	if (ret == SIGTERM || ret == SIGINT || ret == SIGHUP)
		ret = 0;
	retention_stop(fs);
	fs_release_all(fs);
	mailstore_close(&fs->ms);
out_unmount:
	fuse_session_unmount(fs->se);
out_signals:
	fuse_remove_signal_handlers(fs->se);
out_session:
	fuse_session_destroy(fs->se);
	return ret;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct cmdline cmd = { 0 };
	struct ms_options ms_opts = { 0 };
	struct vvmfs fs = { 0 };
	g_autofree char *store_dir = NULL;
	int ret = 1;

	if (fuse_opt_parse(&args, &cmd, vvmfs_opts, opt_proc) != 0 ||
	    fuse_parse_cmdline(&args, &opts) != 0)
		return 2;
	if (opts.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out;
	}
	if (opts.show_version) {
		printf("vvmfs %s, FUSE %s\n", VVM_VERSION, fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (cmd.store_dir == NULL || opts.mountpoint == NULL) {
		usage(argv[0]);
		ret = 2;
		goto out;
	}
	if (load_options(&fs, &cmd, &ms_opts) < 0)
		goto out;
	/* Every deposit holds a thread through its WAL sync; libfuse's
	 * default of 10 would cap concurrent writers well below the store. */
	if (opts.max_threads == 10)
		opts.max_threads = 64;
	/* The kernel checks modes (secrets are 0600) for everyone. */
	fuse_opt_add_arg(&args, "-odefault_permissions");
	if (getuid() == 0)
		fuse_opt_add_arg(&args, "-oallow_other");
	fuse_opt_add_arg(&args, "-ofsname=vvmfs");
	fuse_opt_add_arg(&args, "-osubtype=vvmfs");
	fs.started = g_get_real_time() / G_USEC_PER_SEC;
	/* fuse_daemonize() changes to /: hold on to where the store is. */
	store_dir = g_canonicalize_filename(cmd.store_dir, NULL);
	dyn_init(&fs);
	sessions_init(&fs);
	ret = serve(&fs, &args, &opts, store_dir, &ms_opts) == 0 ? 0 : 1;
	sessions_destroy(&fs);
	dyn_destroy(&fs);
out:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	g_free(fs.options.media_worker);
	g_free(cmd.config_file);
	g_free(cmd.max_message_size);
	g_free(cmd.retention_interval);
	g_free(cmd.owner);
	g_free(cmd.store_dir);
	return ret;
}
