/*
 * stedi-export.c
 *		Write the training table, split by split, as Parquet or CSV files
 *		with a manifest, from one consistent snapshot of the database.
 *
 *	stedi-export [connection options] [--split NAME]... [--format parquet|csv]
 *				 [--gzip] [--row-group-size MB] [--json] [--quiet] OUTDIR
 *
 * The rows stream from the server with COPY ... TO STDOUT (binary for
 * Parquet, csv for CSV) inside one REPEATABLE READ READ ONLY transaction,
 * so a refresh that commits meanwhile is either wholly in the files or
 * wholly out of them, and the manifest says which refresh they reflect.
 * Files are written under temporary names and renamed into place when all
 * are complete, then the manifest, then files of splits or formats this
 * export did not write are removed: a file under its own name is always
 * whole, and the manifest lists, with their SHA-256, the files of the
 * last export that completed.  A lock on OUTDIR keeps two exports from
 * writing it at once; an export that fails removes its temporary files.
 *
 * Memory: for Parquet, one row group of values (--row-group-size, 32 MB by
 * default) and one compressed page of it at a time; for CSV, a row and
 * zlib's buffers.  Never the whole table.
 *
 * Exit status: 0 when every split asked for was written, 1 when one of
 * them has no rows (its file is written, empty), 2 on trouble (a bad
 * option, the connection, the server, the files); with --json one JSON
 * document on stdout says what happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "options.h"

const char *const progname = "stedi-export";
const char *const split_names[NSPLITS] = {"train", "validation", "test"};
bool		json_output = false;

char	   *partials[NSPLITS + 1];
int			npartials;

static void
remove_partials(void)
{
	for (int i = 0; i < npartials; i++)
		if (partials[i] != NULL)
			unlink(partials[i]);
}

static void
remove_partials_and_die(int sig)
{
	remove_partials();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- what is exported ---- */

/* The columns of curated.machine_learning, and their Parquet types. */
static void
read_columns(Export *ex)
{
	PGresult   *res = query(ex,
							"SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull"
							"  FROM pg_catalog.pg_attribute AS a"
							" WHERE a.attrelid = 'curated.machine_learning'::pg_catalog.regclass"
							"   AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
							"could not read the columns of curated.machine_learning");
	size_t		len = 0;

	ex->ncolumns = PQntuples(res);
	ex->columns = xmalloc(ex->ncolumns * sizeof(ExportColumn));
	for (int i = 0; i < ex->ncolumns; i++)
	{
		ExportColumn *c = &ex->columns[i];
		const char *t = PQgetvalue(res, i, 1);

		c->name = xstrdup(PQgetvalue(res, i, 0));
		c->sql_type = xstrdup(t);
		c->nullable = strcmp(PQgetvalue(res, i, 2), "t") == 0;
		if (strcmp(t, "integer") == 0)
			c->parquet = PARQUET_INT32, c->parquet_name = "INT32";
		else if (strcmp(t, "bigint") == 0)
			c->parquet = PARQUET_INT64, c->parquet_name = "INT64";
		else if (strcmp(t, "double precision") == 0)
			c->parquet = PARQUET_DOUBLE, c->parquet_name = "DOUBLE";
		else if (strcmp(t, "text") == 0)
			c->parquet = PARQUET_STRING, c->parquet_name = "BYTE_ARRAY STRING";
		else if (strcmp(t, "uuid") == 0)
			c->parquet = PARQUET_UUID, c->parquet_name = "FIXED_LEN_BYTE_ARRAY(16) UUID";
		else if (strcmp(t, "timestamp with time zone") == 0)
			c->parquet = PARQUET_TIMESTAMP,
				c->parquet_name = "INT64 TIMESTAMP(isAdjustedToUTC=true, MICROS)";
		else
			fail("column %s of curated.machine_learning is of type %s, which cannot be exported",
				 c->name, t);
		len += strlen(c->name) * 2 + 4;
	}
	PQclear(res);

	ex->select_list = xmalloc(len + 1);
	ex->select_list[0] = '\0';
	for (int i = 0; i < ex->ncolumns; i++)
	{
		char	   *quoted = PQescapeIdentifier(ex->conn, ex->columns[i].name,
												strlen(ex->columns[i].name));

		if (quoted == NULL)
			fail("out of memory");
		if (i > 0)
			strcat(ex->select_list, ", ");
		strcat(ex->select_list, quoted);
		PQfreemem(quoted);
	}
}

/* How many rows each split has, in the export's snapshot. */
static void
count_rows(Export *ex)
{
	PGresult   *res = query(ex,
							"SELECT split, count(*) FROM curated.machine_learning GROUP BY split",
							"could not count the rows of curated.machine_learning");

	for (int i = 0; i < PQntuples(res); i++)
		for (int f = 0; f < ex->nfiles; f++)
			if (strcmp(PQgetvalue(res, i, 0), ex->files[f].split) == 0)
				ex->files[f].expected_rows = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	PQclear(res);
}

/* ---- main ---- */

/* stedi-export's own options, after those of every client (options.h) */
static const struct option long_options[] = {
	STEDI_CLIENT_LONG_OPTIONS,
	{"split", required_argument, NULL, 1},
	{"format", required_argument, NULL, 2},
	{"gzip", no_argument, NULL, 3},
	{"row-group-size", required_argument, NULL, 4},
	{NULL, 0, NULL, 0}
};

static void
help(void)
{
	printf("%s writes the STEDI training table, split by split, as Parquet or CSV\n"
		   "files with a manifest, from one consistent snapshot.\n\n", progname);
	printf("Usage:\n  %s [OPTION]... OUTDIR\n\n", progname);
	printf("Options:\n");
	printf("      --split=NAME         export this split: train, validation or test\n"
		   "                           (repeatable; default: all three)\n");
	printf("      --format=FORMAT      parquet (default) or csv\n");
	printf("      --gzip               compress: gzip CSV files (.csv.gz), GZIP Parquet pages\n");
	printf("      --row-group-size=MB  Parquet row groups of about MB megabytes (1 to 1024,\n"
		   "                           default 32): the memory the export takes\n");
	stedi_client_help();
	printf("\nConnection options (as psql's; the PG* environment variables apply):\n");
	stedi_connect_help(" (a member of stedi_analyst)");
	printf("\n");
	printf("Writes OUTDIR/SPLIT.parquet (or SPLIT.csv, SPLIT.csv.gz) and\n"
		   "OUTDIR/manifest.json.  Exit status: 0 when every split was written, 1 when\n"
		   "one of them has no rows, 2 on trouble.  On a terminal a progress bar shows\n"
		   "on stderr.\n");
}

int
main(int argc, char **argv)
{
	Export		ex = {0};
	StediClientOptions opts = {0};
	bool		wanted[NSPLITS] = {false};
	bool		any_split = false;
	int			status = 0;
	int			c;

	ex.parquet = true;
	ex.row_group_bytes = (size_t) 32 << 20;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
	{
		size_t		n = strlen(argv[i]);

		/* (getopt_long takes any unambiguous prefix of a long option) */
		if (n >= 4 && strncmp(argv[i], "--json", n) == 0)
			json_output = true;
		if (strcmp(argv[i], "-?") == 0)
		{
			help();
			return 0;
		}
	}

	opterr = 0;
	while ((c = getopt_long(argc, argv, STEDI_CLIENT_SHORT_OPTIONS, long_options, NULL)) != -1)
	{
		if (stedi_client_option(&opts, c, optarg, progname, STEDI_EXPORT_VERSION, help))
		{
			/* (already, from the scan above, unless abbreviated further) */
			json_output = json_output || opts.json;
			continue;
		}
		switch (c)
		{
			case 1:
				{
					int			s;

					for (s = 0; s < NSPLITS && strcmp(optarg, split_names[s]) != 0; s++)
						;
					if (s == NSPLITS)
						fail("invalid split \"%s\": must be train, validation or test", optarg);
					wanted[s] = any_split = true;
					break;
				}
			case 2:
				if (strcmp(optarg, "parquet") == 0)
					ex.parquet = true;
				else if (strcmp(optarg, "csv") == 0)
					ex.parquet = false;
				else
					fail("invalid format \"%s\": must be parquet or csv", optarg);
				break;
			case 3:
				ex.gzip = true;
				break;
			case 4:
				{
					char	   *end;
					long		mb = strtol(optarg, &end, 10);

					if (*optarg == '\0' || *end != '\0' || mb < 1 || mb > 1024)
						fail("invalid row group size \"%s\": must be 1 to 1024 (MB)", optarg);
					ex.row_group_bytes = (size_t) mb << 20;
					break;
				}
			case '?':
				if (optopt == '?')
				{
					help();
					return 0;
				}
				if (optopt > ' ' && optopt < 127)
					fail("invalid option -- '%c'; try \"%s --help\"", optopt, progname);
				fail("invalid option \"%s\"; try \"%s --help\"", argv[optind - 1], progname);
			case ':':
				fail("option \"%s\" needs a value", argv[optind - 1]);
			default:
				fail("invalid option; try \"%s --help\"", progname);
		}
	}
	if (argc - optind != 1)
		fail("one output folder (OUTDIR) expected; try \"%s --help\"", progname);
	ex.outdir = argv[optind];
	ex.quiet = opts.quiet;
	ex.progress = !ex.quiet && !json_output && isatty(fileno(stderr));

	for (int s = 0; s < NSPLITS; s++)
	{
		ExportFile *f;

		if (any_split && !wanted[s])
			continue;
		f = &ex.files[ex.nfiles++];
		f->split = split_names[s];
		snprintf(f->name, sizeof(f->name), "%s.%s", f->split,
				 ex.parquet ? "parquet" : ex.gzip ? "csv.gz" : "csv");
		f->path = path_in(ex.outdir, f->name);
		f->partial = xmalloc(strlen(ex.outdir) + strlen(f->name) + 16);
		sprintf(f->partial, "%s/.%s.partial", ex.outdir, f->name);
	}
	ex.conn = stedi_connect(progname, opts.dbname, opts.host, opts.port,
							opts.user, opts.prompt);
	if (ex.conn == NULL)
		fail("out of memory");
	if (PQstatus(ex.conn) == CONNECTION_BAD)
		fail_server(ex.conn, "could not connect");

	if (mkdir(ex.outdir, 0777) != 0 && errno != EEXIST)
		fail("could not create %s: %s", ex.outdir, strerror(errno));
	{
		char	   *lock = path_in(ex.outdir, ".stedi-export.lock");
		int			fd = open(lock, O_RDWR | O_CREAT, 0666);

		if (fd < 0)
			fail("could not create %s: %s", lock, strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) != 0)
			fail("another stedi-export is writing %s", ex.outdir);
		free(lock);				/* (the lock lasts as long as the program) */
	}
	for (int i = 0; i < ex.nfiles; i++)
		partials[npartials++] = ex.files[i].partial;
	atexit(remove_partials);
	signal(SIGINT, remove_partials_and_die);
	signal(SIGTERM, remove_partials_and_die);
	signal(SIGHUP, remove_partials_and_die);
	{
		time_t		now = time(NULL);

		strftime(ex.exported_at, sizeof(ex.exported_at), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	}

	/*
	 * One snapshot for everything read, the manifest's facts included; and
	 * text in the forms the readers parse, whatever the user's settings:
	 * ISO times in UTC, doubles in their shortest exact form.
	 */
	PQclear(query(&ex, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "could not begin"));
	PQclear(query(&ex, "SET LOCAL datestyle = 'ISO, YMD'; SET LOCAL timezone = 'UTC';"
				  " SET LOCAL extra_float_digits = 1", "could not set the export's formats"));
	{
		PGresult   *res = query(&ex, "SELECT stedi.training_set_state()",
								"could not read what the training table reflects");

		ex.state = xstrdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	read_columns(&ex);
	count_rows(&ex);
	for (int i = 0; i < ex.nfiles; i++)
		export_file(&ex, &ex.files[i]);
	PQclear(query(&ex, "COMMIT", "could not end the snapshot"));
	PQfinish(ex.conn);
	publish(&ex);

	for (int i = 0; i < ex.nfiles; i++)
		if (ex.files[i].rows == 0)
			status = EXIT_EMPTY;
	if (json_output)
	{
		printf("{\"status\": %d, \"manifest\": ", status);
		write_manifest(&ex, stdout);
		printf("}\n");
	}
	else if (!ex.quiet)
		for (int i = 0; i < ex.nfiles; i++)
			printf("%-10s %12" PRId64 " rows  %12" PRId64 " bytes  %s\n",
				   ex.files[i].split, ex.files[i].rows, ex.files[i].bytes, ex.files[i].path);
	if (status == EXIT_EMPTY && !ex.quiet)
		fprintf(stderr, "%s: a split asked for has no rows (its file is written, empty)\n", progname);
	return status;
}
