/* Maildir conventions: the info part of a file name ("<base>:2,<letters>")
 * and Dovecot's dovecot-keywords file, which maps the lowercase letters to
 * keywords. vvm's only keyword, $CNS-Greeting-On, travels that way. */
#include "vvmadm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct {
	char letter;
	const char *flag;
} info_letters[] = {
	/* In ASCII order, which is the order the info part must have. */
	{ 'D', "\\Draft" },
	{ 'F', "\\Flagged" },
	{ 'R', "\\Answered" },
	{ 'S', "\\Seen" },
	{ 'T', "\\Deleted" },
};

/* The keywords vvmfs stores (docs/fs-layout.md, Flags). */
static const char *const vvm_keywords[] = {
	"$CNS-Greeting-On",
	"$AppleVM-ActiveGreeting",
};

void maildir_keywords_clear(struct maildir_keywords *kw)
{
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		g_clear_pointer(&kw->names[i], g_free);
	kw->changed = false;
}

int maildir_keywords_read(const char *maildir, struct maildir_keywords *kw)
{
	g_autofree char *path = g_build_filename(maildir, "dovecot-keywords",
						 NULL);
	g_autoptr(GBytes) data = NULL;
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	int ret = vvmadm_read_file(path, &data);
	const char *bytes;
	size_t len;

	memset(kw, 0, sizeof(*kw));
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	bytes = g_bytes_get_data(data, &len);
	text = g_strndup(bytes, len);
	lines = g_strsplit(text, "\n", -1);
	for (char **line = lines; *line != NULL; line++) {
		char *name;
		guint64 n;

		/* "<index> <keyword>"; anything else is not ours to judge. */
		name = strchr(*line, ' ');
		if (name == NULL)
			continue;
		*name++ = '\0';
		if (!g_ascii_string_to_unsigned(*line, 10, 0,
						MAILDIR_KEYWORDS_MAX - 1, &n,
						NULL) || *name == '\0')
			continue;
		g_free(kw->names[n]);
		kw->names[n] = g_strdup(name);
	}
	return 0;
}

int maildir_keywords_write(const char *maildir, struct maildir_keywords *kw)
{
	g_autofree char *path = g_build_filename(maildir, "dovecot-keywords",
						 NULL);
	g_autofree char *tmp = g_strconcat(path, ".vvmadm.tmp", NULL);
	GString *text = g_string_new(NULL);
	int ret = 0, fd;

	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (kw->names[i] != NULL)
			g_string_append_printf(text, "%d %s\n", i,
					       kw->names[i]);
	}
	fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
	} else {
		ssize_t n = write(fd, text->str, text->len);

		if (n < 0)
			ret = -errno;
		else if ((size_t)n != text->len)
			ret = -EIO;
		if (ret == 0 && fsync(fd) < 0)
			ret = -errno;
		if (close(fd) < 0 && ret == 0)
			ret = -errno;
	}
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	g_string_free(text, TRUE);
	if (ret == 0)
		kw->changed = false;
	return ret;
}

static int keyword_index(struct maildir_keywords *kw, const char *name,
			 size_t len)
{
	int free_slot = -1;

	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (kw->names[i] == NULL) {
			if (free_slot < 0)
				free_slot = i;
		} else if (strlen(kw->names[i]) == len &&
			   g_ascii_strncasecmp(kw->names[i], name, len) == 0) {
			return i;
		}
	}
	if (free_slot >= 0) {
		kw->names[free_slot] = g_strndup(name, len);
		kw->changed = true;
	}
	return free_slot;
}

char *maildir_info_from_flags(const char *flags, struct maildir_keywords *kw)
{
	bool letters[G_N_ELEMENTS(info_letters)] = { false };
	bool keywords[MAILDIR_KEYWORDS_MAX] = { false };
	GString *info = g_string_new(NULL);
	const char *p = flags;

	while (*p != '\0') {
		size_t len = strcspn(p, " ");
		size_t i;

		for (i = 0; i < G_N_ELEMENTS(info_letters); i++) {
			if (strlen(info_letters[i].flag) == len &&
			    g_ascii_strncasecmp(info_letters[i].flag, p,
						len) == 0)
				break;
		}
		if (i < G_N_ELEMENTS(info_letters)) {
			letters[i] = true;
		} else if (len > 0) {
			int n = keyword_index(kw, p, len);

			/* Past 26 keywords Maildir has no letter left. */
			if (n >= 0)
				keywords[n] = true;
		}
		p += len;
		p += strspn(p, " ");
	}
	for (size_t i = 0; i < G_N_ELEMENTS(info_letters); i++) {
		if (letters[i])
			g_string_append_c(info, info_letters[i].letter);
	}
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (keywords[i])
			g_string_append_c(info, (char)('a' + i));
	}
	return g_string_free(info, FALSE);
}

static bool vvm_keyword(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(vvm_keywords); i++) {
		if (g_ascii_strcasecmp(vvm_keywords[i], name) == 0)
			return true;
	}
	return false;
}

char *maildir_flags_from_name(const char *name,
			      const struct maildir_keywords *kw,
			      GString *dropped)
{
	const char *info = strstr(name, ":2,");
	GString *flags = g_string_new(NULL);

	for (const char *p = info != NULL ? info + 3 : ""; *p != '\0'; p++) {
		const char *flag = NULL;

		for (size_t i = 0; i < G_N_ELEMENTS(info_letters); i++) {
			if (info_letters[i].letter == *p)
				flag = info_letters[i].flag;
		}
		if (*p >= 'a' && *p <= 'z') {
			flag = kw->names[*p - 'a'];
			/* vvmfs refuses a keyword it does not know, and the
			 * message with it: keep the message, say what went. */
			if (flag == NULL || !vvm_keyword(flag)) {
				g_string_append_printf(dropped, "%s%s",
						       dropped->len ? " " : "",
						       flag != NULL ? flag : "?");
				flag = NULL;
			}
		}
		if (flag != NULL)
			g_string_append_printf(flags, "%s%s",
					       flags->len ? " " : "", flag);
	}
	return g_string_free(flags, FALSE);
}

int vvmadm_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}
