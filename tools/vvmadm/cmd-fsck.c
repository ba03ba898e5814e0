/* fsck: the offline check of a store, the only command that does not go
 * through the mount (vvmfs must not be running on the store). */
#include "vvmadm.h"

#include <stdio.h>

#include "mailstore.h"

int cmd_fsck(struct vvmadm *adm, int argc, char **argv)
{
	gboolean repair = FALSE;
	const GOptionEntry entries[] = {
		{ "repair", 0, 0, G_OPTION_ARG_NONE, &repair,
		  "fix what can be fixed", NULL },
		G_OPTION_ENTRY_NULL
	};
	GString *report;
	int unrepaired = 0;
	int ret;

	if (!vvmadm_parse_options(adm, &argc, &argv, entries))
		return VVMADM_USAGE;
	if (argc != 2)
		return vvmadm_usage(argv[0]);
	report = g_string_new(NULL);
	ret = mailstore_fsck(argv[1], repair, report, &unrepaired);
	if (ret < 0) {
		/* The report then says why the store could not be opened. */
		g_strstrip(report->str);
		vvmadm_error(-ret, report->str[0] != '\0' ? report->str :
			     "is vvmfs still running on it?", "fsck %s",
			     argv[1]);
		g_string_free(report, TRUE);
		return VVMADM_ERROR;
	}
	fputs(report->str, stdout);
	if (report->len > 0 && report->str[report->len - 1] != '\n')
		fputc('\n', stdout);
	g_string_free(report, TRUE);
	if (ret == 0) {
		printf("%s: clean\n", argv[1]);
		return VVMADM_OK;
	}
	if (!repair)
		printf("%s: %d problem%s found\n", argv[1], ret,
		       ret == 1 ? "" : "s");
	else
		printf("%s: %d problem%s found, %d repaired\n", argv[1], ret,
		       ret == 1 ? "" : "s", ret - unrepaired);
	return VVMADM_FAILED;
}
