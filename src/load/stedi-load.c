/*
 * stedi-load.c
 *		Load STEDI landing files (JSON lines) into the landing tables of the
 *		stedi extension.
 *
 *		stedi-load [connection options] [--kind KIND] [--quiet] PATH...
 *
 * This file holds the command line; the work is done by
 *
 *		files.c			which files the command line names
 *		server.c		connecting, and the statements for a file
 *		load_file.c		one file in one transaction
 *		report.c		what a person or a program sees of the run
 *
 * Exit status: 0 when every file was loaded whole (or skipped, as loaded
 * before), 1 when some lines were rejected or some files or folders were
 * passed over but everything else worked, 2 on any other trouble.
 */
#include <stdlib.h>

#include "load_file.h"
#include "options.h"
#include "server.h"
#include "util.h"

#define STEDI_LOAD_VERSION	"0.3.0"

/* stedi-load's own options, after those of every client (options.h) */
static const struct option long_options[] = {
	STEDI_CLIENT_LONG_OPTIONS,
	{"kind", required_argument, NULL, 1},
	{"force", no_argument, NULL, 2},
	{NULL, 0, NULL, 0}
};

static void
usage_hint(void)
{
	fprintf(stderr, "%s: hint: Try \"%s --help\" for more information.\n",
			load_progname, load_progname);
}

static void
help(void)
{
	printf("%s loads STEDI landing files (one JSON record a line) into the landing\n"
		   "tables of the stedi extension, one transaction per file.\n\n",
		   load_progname);
	printf("Usage:\n");
	printf("  %s [OPTION]... PATH...\n\n", load_progname);
	printf("PATH is the root of the layout customer/landing/, accelerometer/landing/,\n"
		   "step_trainer/landing/, or one KIND or KIND/landing folder of it, or a single\n"
		   "file.  A landing folder is read with its sub-folders; its files named\n"
		   "*.json, *.jsonl or *.ndjson (any letter case) are loaded, and each of those\n"
		   "with .gz after it is read as gzip.  Everything else in it, what a KIND\n"
		   "folder holds but landing/, trusted/ and curated/, and a folder at the root\n"
		   "that is not a kind's, is passed over and named with the reason.\n"
		   "Files are loaded customer first, then accelerometer, then step_trainer, by\n"
		   "path within a kind.\n\n");
	printf("Options:\n");
	printf("      --kind=KIND          the files named hold KIND records: customer,\n"
		   "                           accelerometer or step_trainer (needed for a file\n"
		   "                           outside KIND/landing/)\n");
	printf("      --force              load files whose content was loaded before\n"
		   "                           (they are skipped otherwise)\n");
	stedi_client_help();
	printf("\nConnection options:\n");
	stedi_connect_help("");
	printf("\nThe PG* environment variables (PGHOST, PGDATABASE, ...) apply as in psql.\n");
	printf("\nA file is known by the SHA-256 of its content: one loaded before is\n"
		   "skipped.  Each file is loaded in a transaction of its own, whole or not at\n"
		   "all; a run stopped at any moment can simply be run again.  On a terminal,\n"
		   "a progress bar shows on stderr.\n");
	printf("\nExit status: 0 if every file was loaded (or skipped as loaded before),\n"
		   "1 if some lines were rejected (see landing.rejected) or some files or\n"
		   "folders were passed over, 2 on a usage, connection, file or server error.\n");
}


/* ---- main ---- */

int
main(int argc, char **argv)
{
	StediClientOptions opts = {0};
	int			forced_kind = -1;
	FileList	list = {0};
	Loader		ld = {0};
	bool		stopped = false;
	int			status;
	int			c;
	int			i;

	if (argc > 1 &&
		(strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		help();
		exit(0);
	}
	if (argc > 1 &&
		(strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
	{
		stedi_print_version(load_progname, STEDI_LOAD_VERSION);
		exit(0);
	}

	/*
	 * With --json, every exit prints one JSON document: one that ends the
	 * run before its report (a usage, file or connection error) holds the
	 * last message printed.  Looked for first, so that a usage error before
	 * --json is told in JSON too.
	 */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
	{
		if (strcmp(argv[i], "--json") == 0)
			load_set_trouble_hook(report_json_error);
	}

	/* report bad options ourselves, named "stedi-load" and not argv[0] */
	opterr = 0;
	while ((c = getopt_long(argc, argv, STEDI_CLIENT_SHORT_OPTIONS,
							long_options, NULL)) != -1)
	{
		/* (--json: the trouble hook is set before) */
		if (stedi_client_option(&opts, c, optarg, load_progname,
								STEDI_LOAD_VERSION, help))
			continue;
		switch (c)
		{
			case 1:
				forced_kind = kind_from_name(optarg);
				if (forced_kind < 0)
				{
					load_error("invalid kind \"%s\": must be customer, accelerometer or step_trainer",
							   optarg);
					load_exit_trouble();
				}
				break;
			case 2:
				ld.force = true;
				break;
			case ':':
				load_error("option \"%s\" needs a value", argv[optind - 1]);
				usage_hint();
				load_exit_trouble();
			default:
				/* getopt returns '?' for -? too, leaving optopt alone */
				if (optopt == 0 && strcmp(argv[optind - 1], "-?") == 0)
				{
					help();
					exit(0);
				}
				if (optopt != 0)
					load_error("invalid option \"-%c\"", optopt);
				else
					load_error("invalid option \"%s\"", argv[optind - 1]);
				usage_hint();
				load_exit_trouble();
		}
	}

	if (optind >= argc)
	{
		load_error("no PATH given: name the files or folders to load");
		usage_hint();
		load_exit_trouble();
	}

	/* find every file, and check it can be read, before touching the database */
	for (i = optind; i < argc; i++)
	{
		if (!collect_path(&list, argv[i], i, forced_kind))
			load_exit_trouble();
	}
	if (!order_files(&list))
		load_exit_trouble();

	ld.conn = connect_database(&opts);
	check_extension(ld.conn);

	ld.unknown = unknown_fields_create();
	ld.report = report_start(&list, opts.quiet, opts.json, true);
	for (i = 0; i < list.nfiles && !stopped; i++)
		stopped = !load_file(&ld, &list.files[i]);
	status = report_finish(ld.report, stopped);

	loader_free(&ld);
	return status;
}
