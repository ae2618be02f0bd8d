/*-------------------------------------------------------------------------
 *
 * writer.c
 *		The output of stedi-gen: the landing folders, the numbered files of
 *		each kind of data, and the JSON lines of its records.
 *
 * Records are written as the app and the devices write them: customer
 * records with a space after each ',' and ':', readings without.  With
 * --faults, faults.c adds to what is written around each record.
 *
 * IDENTIFICATION
 *		src/gen/writer.c
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "gen.h"

/* The real set splits its files at 10,000 lines. */
#define MAX_LINES_PER_FILE	10000

#define IO_BUFFER_SIZE		(1024 * 1024)

/* Accelerometer axis values as the app writes them. */
static const char *const axis_text[] = {"-1.0", "0.0", "1.0"};

static char *
path_join(const char *a, const char *b)
{
	size_t		la = strlen(a);
	size_t		lb = strlen(b);
	char	   *p = xmalloc(la + lb + 2);

	memcpy(p, a, la);
	/* avoid "dir//x" when the user gave a trailing slash */
	if (la == 0 || a[la - 1] != '/')
		p[la++] = '/';
	memcpy(p + la, b, lb + 1);
	return p;
}


/* ---- output files ------------------------------------------------------ */

/*
 * mkdir -p: create each missing component.  An existing directory is fine;
 * anything else in the way is an error.
 */
static void
make_dirs(const char *path)
{
	char	   *buf = xmalloc(strlen(path) + 1);
	char	   *p;

	strcpy(buf, path);
	p = buf;
	for (;;)
	{
		char		saved;
		struct stat st;

		while (*p == '/')
			p++;
		while (*p != '\0' && *p != '/')
			p++;
		saved = *p;
		*p = '\0';
		if (mkdir(buf, 0777) != 0)
		{
			int			save_errno = errno;

			if (save_errno != EEXIST || stat(buf, &st) != 0 ||
				!S_ISDIR(st.st_mode))
				fatal("could not create directory \"%s\": %s", buf,
					  strerror(save_errno == EEXIST ? ENOTDIR : save_errno));
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(buf);
}

static bool
has_json_suffix(const char *name)
{
	size_t		len = strlen(name);
	size_t		slen = strlen(STEDI_FILE_SUFFIX);

	return len >= slen && strcmp(name + len - slen, STEDI_FILE_SUFFIX) == 0;
}

/* Refuse to write where data of an earlier run (or real data) already is. */
static void
check_empty_landing(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
	{
		/* not there yet (or blocked by a file, which mkdir will report) */
		if (errno == ENOENT || errno == ENOTDIR)
			return;
		fatal("could not open directory \"%s\": %s", dir, strerror(errno));
	}
	errno = 0;
	while ((de = readdir(d)) != NULL)
	{
		if (has_json_suffix(de->d_name))
			fatal("\"%s\" already contains *%s files; refusing to mix data sets",
				  dir, STEDI_FILE_SUFFIX);
		errno = 0;
	}
	if (errno != 0)
		fatal("could not read directory \"%s\": %s", dir, strerror(errno));
	closedir(d);
}

static void
writer_init(KindWriter *w, const char *folder, StediKind kind)
{
	char	   *kind_dir = path_join(folder, stedi_kind_name[kind]);

	memset(w, 0, sizeof(*w));
	w->kind = stedi_kind_name[kind];
	w->kindno = kind;
	w->dir = path_join(kind_dir, STEDI_LANDING_DIR);
	w->buffer = xmalloc(IO_BUFFER_SIZE);
	free(kind_dir);
}

void
writers_init(KindWriter *out, const char *folder, FaultState *faults)
{
	int			k;

	for (k = 0; k < STEDI_NKINDS; k++)
	{
		writer_init(&out[k], folder, (StediKind) k);
		out[k].faults = faults;
		check_empty_landing(out[k].dir);
	}
	for (k = 0; k < STEDI_NKINDS; k++)
		make_dirs(out[k].dir);
}

void
writer_write(KindWriter *w, const char *data, size_t len)
{
	if (fwrite(data, 1, len, w->fp) != len)
		fatal("could not write \"%s\": %s", w->path, strerror(errno));
}

static void
writer_close_file(KindWriter *w)
{
	if (w->fp == NULL)
		return;
	if (w->faults != NULL)
		faults_file_end(w);
	if (fclose(w->fp) != 0)
		fatal("could not write \"%s\": %s", w->path, strerror(errno));
	w->fp = NULL;
}

static void
writer_open_next(KindWriter *w)
{
	char		name[64];

	writer_close_file(w);
	w->nfiles++;
	/* zero-padded, so that name order is the order the files were written */
	snprintf(name, sizeof(name), "%s-%06d%s", w->kind, w->nfiles,
			 STEDI_FILE_SUFFIX);
	free(w->path);
	w->path = path_join(w->dir, name);

	/* "x": never overwrite, even if a file appeared since the check */
	w->fp = fopen(w->path, "wx");
	if (w->fp == NULL)
		fatal("could not create \"%s\": %s", w->path, strerror(errno));
	if (setvbuf(w->fp, w->buffer, _IOFBF, IO_BUFFER_SIZE) != 0)
		fatal("could not set up buffering for \"%s\"", w->path);
	w->lines_in_file = 0;
	if (w->faults != NULL)
		faults_file_start(w);
}

/*
 * Write a good record.  Files are split by good records only, so that with
 * --faults the same records land in the same files as without.
 */
static void
writer_put(KindWriter *w, const LineBuf *lb)
{
	if (w->fp == NULL || w->lines_in_file >= MAX_LINES_PER_FILE)
		writer_open_next(w);
	if (w->faults != NULL)
		faults_put_record(w, lb);
	else
		writer_write(w, lb->data, lb->len);
	w->lines_in_file++;
	w->lines++;
}

void
writer_finish(KindWriter *w)
{
	writer_close_file(w);
	free(w->buffer);
	w->buffer = NULL;
	free(w->dir);
	w->dir = NULL;
	free(w->path);
	w->path = NULL;
}


/* ---- records ----------------------------------------------------------- */

static inline void
lb_reset(LineBuf *lb)
{
	lb->len = 0;
}

static inline void
lb_str(LineBuf *lb, const char *s)
{
	size_t		n = strlen(s);

	memcpy(lb->data + lb->len, s, n);
	lb->len += n;
}

static inline void
lb_int(LineBuf *lb, int64_t v)
{
	char		tmp[24];
	int			n = 0;
	uint64_t	u;

	if (v < 0)
	{
		lb->data[lb->len++] = '-';
		u = (uint64_t) 0 - (uint64_t) v;
	}
	else
		u = (uint64_t) v;
	do
	{
		tmp[n++] = (char) ('0' + u % 10);
		u /= 10;
	} while (u != 0);
	while (n > 0)
		lb->data[lb->len++] = tmp[--n];
}

static void
put_share(LineBuf *lb, const char *field, bool present, int64_t at)
{
	if (!present)
		return;
	lb_str(lb, ", \"");
	lb_str(lb, field);
	lb_str(lb, "\": ");
	lb_int(lb, at);
}

/*
 * Write a customer record; "later" writes the repeated record with the
 * changed research consent instead of the original one.
 */
void
write_customer(KindWriter *w, const Customer *c, bool later)
{
	LineBuf		lb;
	int64_t		updated = later ? c->update_at : c->updated;

	lb_reset(&lb);
	lb_str(&lb, "{\"" F_CUSTOMER_NAME "\": \"");
	lb_str(&lb, c->name);
	lb_str(&lb, "\", \"" F_EMAIL "\": \"");
	lb_str(&lb, c->email);
	lb_str(&lb, "\", \"" F_PHONE "\": \"");
	lb_str(&lb, c->phone);
	lb_str(&lb, "\", \"" F_BIRTH_DAY "\": \"");
	lb_str(&lb, c->birthday);
	lb_str(&lb, "\", \"" F_SERIAL_NUMBER "\": \"");
	lb_str(&lb, c->serial);
	lb_str(&lb, "\", \"" F_REGISTRATION_DATE "\": ");
	lb_int(&lb, c->registered);
	lb_str(&lb, ", \"" F_LAST_UPDATE_DATE "\": ");
	lb_int(&lb, updated);

	/* share dates are as of the record's last update, as the app sets them */
	if (!later)
		put_share(&lb, F_SHARE_RESEARCH, c->share_research, c->updated);
	else if (c->update == UPDATE_GIVE)
		put_share(&lb, F_SHARE_RESEARCH, true, c->update_at);
	else if (c->update == UPDATE_WITHDRAW_NULL)
		lb_str(&lb, ", \"" F_SHARE_RESEARCH "\": null");
	put_share(&lb, F_SHARE_PUBLIC, c->share_public, c->updated);
	put_share(&lb, F_SHARE_FRIENDS, c->share_friends, c->updated);
	lb_str(&lb, "}\n");
	writer_put(w, &lb);
}

void
write_accel(KindWriter *w, const char *email, const AccelReading *a)
{
	LineBuf		lb;

	lb_reset(&lb);
	lb_str(&lb, "{\"" F_USER "\":\"");
	lb_str(&lb, email);
	lb_str(&lb, "\",\"" F_TIMESTAMP "\":");
	lb_int(&lb, a->ts);
	lb_str(&lb, ",\"" F_X "\":");
	lb_str(&lb, axis_text[a->x]);
	lb_str(&lb, ",\"" F_Y "\":");
	lb_str(&lb, axis_text[a->y]);
	lb_str(&lb, ",\"" F_Z "\":");
	lb_str(&lb, axis_text[a->z]);
	lb_str(&lb, "}\n");
	writer_put(w, &lb);
}

void
write_step(KindWriter *w, const char *serial, int64_t ts, int32_t distance)
{
	LineBuf		lb;

	lb_reset(&lb);
	lb_str(&lb, "{\"" F_SENSOR_READING_TIME "\":");
	lb_int(&lb, ts);
	lb_str(&lb, ",\"" F_SERIAL_NUMBER "\":\"");
	lb_str(&lb, serial);
	lb_str(&lb, "\",\"" F_DISTANCE "\":");
	lb_int(&lb, distance);
	lb_str(&lb, "}\n");
	writer_put(w, &lb);
}
