/*-------------------------------------------------------------------------
 *
 * writer.c
 *		The output of stedi-gen: the landing folders, the numbered files of
 *		each kind of data, and the JSON lines of its records.
 *
 * Records are written as the app and the devices write them, field by
 * field in a fixed order.  With --faults, faults.c adds to what is written
 * around each record.
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

/*
 * Customer records are written as the app writes them, with a space after
 * ',' and ':'; the readings as the devices do, without.
 */
const char *
item_sep(const KindWriter *w)
{
	return w->kindno == STEDI_CUSTOMER ? ", " : ",";
}

const char *
key_sep(const KindWriter *w)
{
	return w->kindno == STEDI_CUSTOMER ? ": " : ":";
}

/* Start field "key" of the record in lb: '{' or a separator, then the key. */
static void
put_key(const KindWriter *w, LineBuf *lb, const char *key)
{
	lb_str(lb, lb->len == 0 ? "{" : item_sep(w));
	lb_str(lb, "\"");
	lb_str(lb, key);
	lb_str(lb, "\"");
	lb_str(lb, key_sep(w));
}

/* A string field; our strings hold nothing that JSON would escape. */
static void
put_text(const KindWriter *w, LineBuf *lb, const char *key, const char *value)
{
	put_key(w, lb, key);
	lb_str(lb, "\"");
	lb_str(lb, value);
	lb_str(lb, "\"");
}

/* A field whose value is written as it is: a number or null. */
static void
put_json(const KindWriter *w, LineBuf *lb, const char *key, const char *json)
{
	put_key(w, lb, key);
	lb_str(lb, json);
}

static void
put_int(const KindWriter *w, LineBuf *lb, const char *key, int64_t value)
{
	put_key(w, lb, key);
	lb_int(lb, value);
}

/* A share* field, which is there only if that sharing was agreed to. */
static void
put_share(const KindWriter *w, LineBuf *lb, const char *key, bool present,
		  int64_t at)
{
	if (present)
		put_int(w, lb, key, at);
}

/* End the record in lb and write it. */
static void
put_record(KindWriter *w, LineBuf *lb)
{
	lb_str(lb, "}\n");
	writer_put(w, lb);
}

void
write_customer(KindWriter *w, const Customer *c, bool later)
{
	const char *const text[][2] = {
		{F_CUSTOMER_NAME, c->name},
		{F_EMAIL, c->email},
		{F_PHONE, c->phone},
		{F_BIRTH_DAY, c->birthday},
		{F_SERIAL_NUMBER, c->serial}
	};
	LineBuf		lb;
	int			i;

	lb_reset(&lb);
	for (i = 0; i < LENGTHOF(text); i++)
		put_text(w, &lb, text[i][0], text[i][1]);
	put_int(w, &lb, F_REGISTRATION_DATE, c->registered);
	put_int(w, &lb, F_LAST_UPDATE_DATE, later ? c->update_at : c->updated);

	/* share dates are as of the record's last update, as the app sets them */
	if (!later)
		put_share(w, &lb, F_SHARE_RESEARCH, c->share_research, c->updated);
	else if (c->update == UPDATE_GIVE)
		put_share(w, &lb, F_SHARE_RESEARCH, true, c->update_at);
	else if (c->update == UPDATE_WITHDRAW_NULL)
		put_json(w, &lb, F_SHARE_RESEARCH, "null");
	put_share(w, &lb, F_SHARE_PUBLIC, c->share_public, c->updated);
	put_share(w, &lb, F_SHARE_FRIENDS, c->share_friends, c->updated);
	put_record(w, &lb);
}

void
write_accel(KindWriter *w, const char *email, const AccelReading *a)
{
	LineBuf		lb;

	lb_reset(&lb);
	put_text(w, &lb, F_USER, email);
	put_int(w, &lb, F_TIMESTAMP, a->ts);
	put_json(w, &lb, F_X, axis_text[a->x]);
	put_json(w, &lb, F_Y, axis_text[a->y]);
	put_json(w, &lb, F_Z, axis_text[a->z]);
	put_record(w, &lb);
}

void
write_step(KindWriter *w, const char *serial, int64_t ts, int32_t distance)
{
	LineBuf		lb;

	lb_reset(&lb);
	put_int(w, &lb, F_SENSOR_READING_TIME, ts);
	put_text(w, &lb, F_SERIAL_NUMBER, serial);
	put_int(w, &lb, F_DISTANCE, distance);
	put_record(w, &lb);
}
