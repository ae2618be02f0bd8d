/*
 * report.c
 *		What a person or a program sees of a stedi-load run: a line per file
 *		(and one naming its unknown fields), a line per file or folder passed
 *		over, and a total on stdout, a progress bar on a terminal, or one
 *		JSON document with --json.
 *
 * The progress bar goes to stderr and only when stderr is a terminal, so a
 * log file or a pipe never fills with carriage returns; it is redrawn at
 * most five times a second, whatever the rate of rows.
 */
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "json_out.h"
#include "report.h"
#include "util.h"

#define EXIT_ALL_LOADED		0
#define EXIT_REJECTED		1		/* or passed over */

#define REDRAW_SECONDS		0.2

/* unknown field names shown in a file's line; landing.unknown_field has all */
#define UNKNOWN_SHOWN		10

#define Max(a, b)			((a) > (b) ? (a) : (b))

struct Report
{
	bool		quiet;
	bool		json;
	bool		progress;

	/* the run */
	double		started;
	int64_t		total_bytes;
	int			nfiles;

	/* what is done: files finished, and the file under way */
	int64_t		done_bytes;
	int64_t		done_rows;
	int64_t		file_bytes;
	int64_t		file_rows;
	const LoadFile *current;
	double		last_draw;
	bool		drawn;
	long		calls;

	/* per file, for the totals and --json */
	const LoadFile **files;
	FileResult *results;
	int			nresults;

	/* what the folders held that is not loaded */
	const PassedOver *passed;
	int			npassed;
};

Report *
report_start(const FileList *list, bool quiet, bool json, bool progress)
{
	Report	   *r = load_malloc(sizeof(Report));
	int			i;

	memset(r, 0, sizeof(Report));
	r->quiet = quiet;
	r->json = json;
	r->progress = progress && !quiet && isatty(STDERR_FILENO);
	r->started = load_now_seconds();
	r->nfiles = list->nfiles;
	for (i = 0; i < list->nfiles; i++)
		r->total_bytes += list->files[i].size_bytes;
	r->files = load_malloc(sizeof(LoadFile *) * (size_t) Max(list->nfiles, 1));
	r->results = load_malloc(sizeof(FileResult) * (size_t) Max(list->nfiles, 1));
	r->passed = list->passed;
	r->npassed = list->npassed;
	return r;
}

/* ---- the progress bar ---- */

static int
terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 80;
}

/* 1234567 -> "1.2M" */
static void
human_count(char *buf, size_t size, double n, const char *unit)
{
	if (n >= 1e9)
		snprintf(buf, size, "%.1fG%s", n / 1e9, unit);
	else if (n >= 1e6)
		snprintf(buf, size, "%.1fM%s", n / 1e6, unit);
	else if (n >= 1e3)
		snprintf(buf, size, "%.1fk%s", n / 1e3, unit);
	else
		snprintf(buf, size, "%.0f%s", n, unit);
}

static void
clear_progress(Report *r)
{
	if (r->drawn)
	{
		fputs("\r\033[K", stderr);
		fflush(stderr);
		r->drawn = false;
	}
}

static void
draw_progress(Report *r, double now)
{
	int64_t		bytes = r->done_bytes + r->file_bytes;
	int64_t		rows = r->done_rows + r->file_rows;
	double		elapsed = now - r->started;
	double		fraction = r->total_bytes > 0 ? (double) bytes / (double) r->total_bytes : 1.0;
	double		byte_rate = elapsed > 0 ? (double) bytes / elapsed : 0;
	double		row_rate = elapsed > 0 ? (double) rows / elapsed : 0;
	char		done_text[16],
				total_text[16],
				rows_text[16],
				rate_text[16],
				eta_text[16];
	char		bar[41];
	int			width = terminal_width() >= 100 ? 30 : 20;
	int			filled;
	int			i;

	if (fraction > 1.0)
		fraction = 1.0;
	filled = (int) (fraction * width);
	for (i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '-';
	bar[width] = '\0';

	human_count(done_text, sizeof(done_text), (double) bytes, "B");
	human_count(total_text, sizeof(total_text), (double) r->total_bytes, "B");
	human_count(rows_text, sizeof(rows_text), (double) rows, " rows");
	human_count(rate_text, sizeof(rate_text), row_rate, " rows/s");
	if (byte_rate > 0 && bytes > 0)
	{
		long		eta = (long) (((double) r->total_bytes - (double) bytes) / byte_rate + 0.5);

		snprintf(eta_text, sizeof(eta_text), "%ld:%02ld", eta / 60, eta % 60);
	}
	else
		snprintf(eta_text, sizeof(eta_text), "?");

	fprintf(stderr, "\r[%s] %3d%%  %s/%s  %s  %s  ETA %s\033[K",
			bar, (int) (fraction * 100), done_text, total_text, rows_text,
			rate_text, eta_text);
	fflush(stderr);
	r->drawn = true;
	r->last_draw = now;
}

/* Called for every line; looks at the clock only every 1024 calls. */
void
report_progress(Report *r, int64_t file_bytes_done, int64_t file_rows)
{
	double		now;

	if (!r->progress)
		return;
	r->file_bytes = file_bytes_done;
	r->file_rows = file_rows;
	if ((++r->calls & 1023) != 0)
		return;
	now = load_now_seconds();
	if (now - r->last_draw >= REDRAW_SECONDS)
		draw_progress(r, now);
}

/* ---- per file ---- */

static const char *const outcome_name[] = {"loaded", "skipped", "failed"};

/*
 * "unknown fields: favouriteColour (2 records), device (1 record)": of the
 * names kept, those of the most records first, at most UNKNOWN_SHOWN of
 * them, and what was not kept.
 */
static void
print_unknown_fields(UnknownFields *u)
{
	int			n = unknown_fields_count(u);
	int			i;

	printf("%-13s    unknown fields: ", "");
	for (i = 0; i < n && i < UNKNOWN_SHOWN; i++)
	{
		size_t		len;
		int64_t		records;
		const char *name = unknown_fields_name(u, i, &len, &records);
		size_t		j;

		if (i > 0)
			fputs(", ", stdout);
		/* a name may hold anything: control characters are shown escaped */
		for (j = 0; j < len; j++)
		{
			unsigned char c = (unsigned char) name[j];

			if (c < 0x20 || c == 0x7f)
				printf("\\x%02x", c);
			else
				putchar(c);
		}
		printf(" (%lld record%s)", (long long) records, records == 1 ? "" : "s");
	}
	if (n > UNKNOWN_SHOWN)
		printf(", and %d more (see landing.unknown_field)", n - UNKNOWN_SHOWN);
	if (unknown_fields_left_out(u) > 0)
	{
		int64_t		left = unknown_fields_left_out(u);

		printf("; not named: %lld key%s of names first met after the first %d",
			   (long long) left, left == 1 ? "" : "s", n);
	}
	putchar('\n');
}

void
report_file(Report *r, const LoadFile *f, const FileResult *result)
{
	FileResult *kept = &r->results[r->nresults];

	r->files[r->nresults] = f;
	*kept = *result;
	r->nresults++;
	/* what is only lent to us for this call */
	kept->message = result->message != NULL ?
		load_strdup(result->message) : NULL;
	kept->unknown = NULL;
	kept->unknown_json = r->json && result->unknown_json != NULL ?
		load_strdup(result->unknown_json) : NULL;

	r->done_bytes += f->size_bytes;
	r->done_rows += result->loaded;
	r->file_bytes = 0;
	r->file_rows = 0;

	if (r->quiet || r->json)
		return;

	clear_progress(r);
	switch (result->outcome)
	{
		case FILE_LOADED:
			printf("%-13s  %s  %lld lines  %lld loaded  %lld rejected  %.2f s\n",
				   stedi_kind_name[f->kind], f->display,
				   (long long) result->lines, (long long) result->loaded,
				   (long long) result->rejected, result->seconds);
			if (result->unknown != NULL && unknown_fields_total(result->unknown) > 0)
				print_unknown_fields(result->unknown);
			break;
		case FILE_SKIPPED:
			printf("%-13s  %s  skipped: already loaded (file %d, sha256 %.12s)\n",
				   stedi_kind_name[f->kind], f->display, result->file_id,
				   result->sha256);
			break;
		case FILE_FAILED:
			printf("%-13s  %s  failed, rolled back\n",
				   stedi_kind_name[f->kind], f->display);
			break;
	}
	fflush(stdout);
	if (r->progress)
		draw_progress(r, load_now_seconds());
}

/* ---- the end ---- */

/*
 * --json, for a run ended before its report (a usage, file or connection
 * error): the document holds the message and the exit status.
 */
void
report_json_error(const char *message, int status)
{
	char	   *text = path_text(message);	/* UTF-8, one line */

	fputs("{\"error\": ", stdout);
	json_out_string(stdout, text);
	printf(", \"exit_status\": %d}\n", status);
	fflush(stdout);
	free(text);
}

/* Why something was passed over, in words, with the hint if any. */
static void
print_passed(const PassedOver *p)
{
	printf("%-13s  %s  passed over: %s", p->kind >= 0 ?
		   stedi_kind_name[p->kind] : "-", p->display, p->reason);
	if (p->hint != NULL)
		printf("; did you mean %s?", p->hint);
	else if (p->kind < 0 && strcmp(p->reason, "not a kind folder") == 0)
		printf(" (customer/, accelerometer/ or step_trainer/)");
	putchar('\n');
}

static void
print_json(Report *r, const FileResult *totals, int nloaded, int nskipped,
		   int nfailed, double elapsed, int status)
{
	int			i;

	printf("{\"passed_over\": [");
	for (i = 0; i < r->npassed; i++)
	{
		const PassedOver *p = &r->passed[i];

		printf("%s\n  {\"kind\": ", i > 0 ? "," : "");
		if (p->kind >= 0)
			printf("\"%s\"", stedi_kind_name[p->kind]);
		else
			printf("null");
		printf(", \"path\": ");
		json_out_string(stdout, p->display);
		printf(", \"reason\": ");
		json_out_string(stdout, p->reason);
		printf(", \"did_you_mean\": ");
		json_out_string(stdout, p->hint);
		putchar('}');
	}
	printf("%s],\n \"files\": [", r->npassed > 0 ? "\n " : "");
	for (i = 0; i < r->nresults; i++)
	{
		const FileResult *res = &r->results[i];

		printf("%s\n  {\"kind\": \"%s\", \"path\": ", i > 0 ? "," : "",
			   stedi_kind_name[r->files[i]->kind]);
		json_out_string(stdout, r->files[i]->display);
		printf(", \"outcome\": \"%s\", \"sha256\": \"%s\", \"file_id\": ",
			   outcome_name[res->outcome], res->sha256);
		if (res->file_id > 0)
			printf("%d", res->file_id);
		else
			printf("null");
		printf(", \"size_bytes\": %lld, \"lines\": %lld, \"loaded\": %lld, "
			   "\"rejected\": %lld, \"extra_fields\": %lld, \"unknown_fields\": %s, "
			   "\"seconds\": %.3f, \"message\": ",
			   (long long) res->size_bytes, (long long) res->lines,
			   (long long) res->loaded, (long long) res->rejected,
			   (long long) res->extra_fields,
			   res->unknown_json != NULL ? res->unknown_json : "null",
			   res->seconds);
		json_out_string(stdout, res->message);
		putchar('}');
	}
	printf("\n ],\n \"totals\": {\"files\": %d, \"loaded_files\": %d, "
		   "\"skipped_files\": %d, \"failed_files\": %d, \"passed_over\": %d, "
		   "\"lines\": %lld, "
		   "\"loaded\": %lld, \"rejected\": %lld, \"extra_fields\": %lld, "
		   "\"seconds\": %.3f, \"rows_per_second\": %.0f},\n"
		   " \"exit_status\": %d}\n",
		   r->nresults, nloaded, nskipped, nfailed, r->npassed,
		   (long long) totals->lines, (long long) totals->loaded,
		   (long long) totals->rejected, (long long) totals->extra_fields,
		   elapsed, elapsed > 0 ? (double) totals->loaded / elapsed : 0.0,
		   status);
}

/*
 * Print the totals (or the JSON document) and return the exit status:
 * 2 when the run was stopped by an error or a file failed, else 1 when
 * lines were rejected or files or folders passed over, else 0.
 */
int
report_finish(Report *r, bool stopped)
{
	FileResult	totals;
	int			counts[3] = {0, 0, 0};
	double		elapsed = load_now_seconds() - r->started;
	int			status;
	int			i;

	memset(&totals, 0, sizeof(totals));
	for (i = 0; i < r->nresults; i++)
	{
		const FileResult *res = &r->results[i];

		counts[res->outcome]++;
		if (res->outcome != FILE_LOADED)
			continue;
		totals.lines += res->lines;
		totals.loaded += res->loaded;
		totals.rejected += res->rejected;
		totals.extra_fields += res->extra_fields;
	}
	status = stopped || counts[FILE_FAILED] > 0 ? EXIT_TROUBLE :
		totals.rejected > 0 || r->npassed > 0 ? EXIT_REJECTED : EXIT_ALL_LOADED;

	clear_progress(r);
	if (!r->json && !r->quiet)
	{
		for (i = 0; i < r->npassed; i++)
			print_passed(&r->passed[i]);
	}
	if (r->json)
		print_json(r, &totals, counts[FILE_LOADED], counts[FILE_SKIPPED],
				   counts[FILE_FAILED], elapsed, status);
	else if (!r->quiet)
	{
		printf("total: %d files loaded, %d skipped, %lld lines, %lld loaded, "
			   "%lld rejected, %lld unknown fields, %.1f s (%.0f rows/s)\n",
			   counts[FILE_LOADED], counts[FILE_SKIPPED],
			   (long long) totals.lines, (long long) totals.loaded,
			   (long long) totals.rejected, (long long) totals.extra_fields,
			   elapsed, elapsed > 0 ? (double) totals.loaded / elapsed : 0.0);
		if (stopped && r->nresults < r->nfiles)
			fprintf(stderr, "stedi-load: stopped; %d of %d files not attempted\n",
					r->nfiles - r->nresults, r->nfiles);
	}
	if (totals.rejected > 0 && !r->quiet && !r->json)
		fprintf(stderr, "stedi-load: %lld lines rejected; their reasons are in landing.rejected\n",
				(long long) totals.rejected);
	if (r->npassed > 0 && !r->quiet && !r->json)
		fprintf(stderr, "stedi-load: %d files or folders passed over; they are named above\n",
				r->npassed);
	fflush(stdout);
	for (i = 0; i < r->nresults; i++)
	{
		free((char *) r->results[i].message);
		free((char *) r->results[i].unknown_json);
	}
	return status;
}
