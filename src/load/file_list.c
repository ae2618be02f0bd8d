/*
 * file_list.c
 *		The list of what a stedi-load command line names: the files to load
 *		and what was passed over, each added as it is found, and put in
 *		order once all are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "files.h"
#include "util.h"

void
add_file(FileList *list, StediKind kind, int argno, char *display,
		 char *realpath, const struct stat *st)
{
	LoadFile   *f;

	if (list->nfiles == list->capacity)
	{
		list->capacity = list->capacity > 0 ? list->capacity * 2 : 64;
		list->files = load_realloc(list->files,
								   sizeof(LoadFile) * (size_t) list->capacity);
	}
	f = &list->files[list->nfiles++];
	f->kind = kind;
	f->argno = argno;
	f->gzip = is_gzip_name(display);
	f->display = path_text(display);
	free(display);
	f->realpath = realpath;
	f->path_text = path_text(realpath);
	f->size_bytes = (int64_t) st->st_size;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
}

void
add_passed(FileList *list, int kind, int argno, char *display, char *key,
		   const char *reason, const char *hint)
{
	PassedOver *p;

	if (list->npassed == list->passed_capacity)
	{
		list->passed_capacity = list->passed_capacity > 0 ?
			list->passed_capacity * 2 : 16;
		list->passed = load_realloc(list->passed, sizeof(PassedOver) *
									(size_t) list->passed_capacity);
	}
	p = &list->passed[list->npassed++];
	p->kind = kind;
	p->argno = argno;
	p->display = path_text(display);
	free(display);
	p->key = key;
	p->reason = reason;
	p->hint = hint;
}

void
pass_over(FileList *list, int kind, int argno, char *shown, char *path,
		  bool folder, const char *reason, const char *hint)
{
	if (folder)
	{
		char	   *slashed = load_malloc(strlen(shown) + 2);

		sprintf(slashed, "%s/", shown);
		free(shown);
		shown = slashed;
	}
	add_passed(list, kind, argno, shown, path, reason, hint);
}


/* ---- order ---- */

/* How sort_unique tells entries apart, and orders them. */
typedef struct EntryOrder
{
	const char *(*key_of) (const void *entry);	/* the path it was found by */
	int			(*compare) (const void *a, const void *b);	/* qsort's */
} EntryOrder;

static int
compare_key_then_order(const void *a, const void *b, void *arg)
{
	const EntryOrder *order = arg;
	int			c = strcmp(order->key_of(a), order->key_of(b));

	return c != 0 ? c : order->compare(a, b);
}

/*
 * Keep one of the n entries of size bytes at base for each path they were
 * found by: the first in order (so the one of the earliest argument).
 * drop frees the others.  What is kept is left in order; returns how many.
 */
static int
sort_unique(void *base, int n, size_t size, const EntryOrder *order,
			void (*drop) (void *))
{
	char	   *entries = base;
	int			i,
				kept = 0;

	qsort_r(entries, (size_t) n, size, compare_key_then_order,
			(void *) order);
	for (i = 0; i < n; i++)
	{
		char	   *e = entries + (size_t) i * size;

		if (kept > 0 &&
			strcmp(order->key_of(entries + (size_t) (kept - 1) * size),
				   order->key_of(e)) == 0)
		{
			drop(e);
			continue;
		}
		if (kept != i)
			memcpy(entries + (size_t) kept * size, e, size);
		kept++;
	}
	qsort(entries, (size_t) kept, size, order->compare);
	return kept;
}

/* by argument, then by what is shown */
static int
compare_shown(int argno_a, const char *shown_a, int argno_b,
			  const char *shown_b)
{
	if (argno_a != argno_b)
		return argno_a - argno_b;
	return strcmp(shown_a, shown_b);
}

/* files load by kind, then by argument and path */
static int
compare_load_order(const void *a, const void *b)
{
	const LoadFile *fa = a;
	const LoadFile *fb = b;

	if (fa->kind != fb->kind)
		return (int) fa->kind - (int) fb->kind;
	return compare_shown(fa->argno, fa->display, fb->argno, fb->display);
}

static int
compare_passed_order(const void *a, const void *b)
{
	const PassedOver *pa = a;
	const PassedOver *pb = b;

	return compare_shown(pa->argno, pa->display, pb->argno, pb->display);
}

/* a file's real path, by which it is loaded once */
static const char *
file_key(const void *entry)
{
	return ((const LoadFile *) entry)->realpath;
}

/* what was passed over is named once, by the path it was found by */
static const char *
passed_key(const void *entry)
{
	return ((const PassedOver *) entry)->key;
}

static void
drop_file(void *entry)
{
	LoadFile   *f = entry;

	free(f->display);
	free(f->realpath);
	free(f->path_text);
}

static void
drop_passed(void *entry)
{
	PassedOver *p = entry;

	free(p->display);
	free(p->key);
}

/* by the file itself, then by kind and path, for the same file's paths */
static int
compare_identity(const void *a, const void *b)
{
	const LoadFile *fa = a;
	const LoadFile *fb = b;

	if (fa->dev != fb->dev)
		return fa->dev < fb->dev ? -1 : 1;
	if (fa->ino != fb->ino)
		return fa->ino < fb->ino ? -1 : 1;
	if (fa->kind != fb->kind)
		return (int) fa->kind - (int) fb->kind;
	return strcmp(fa->display, fb->display);
}

/*
 * What was passed over, in the order of the arguments and by name, each
 * once however many arguments led to it.
 */
static void
order_passed(FileList *list)
{
	static const EntryOrder order = {passed_key, compare_passed_order};

	if (list->npassed == 0)
		return;
	list->npassed = sort_unique(list->passed, list->npassed,
								sizeof(PassedOver), &order, drop_passed);
}

/*
 * Put the files in loading order: customer first, then accelerometer, then
 * step_trainer (customers are what the other two refer to), and by path
 * (bytewise, sub-folders included) within a kind.  A file named twice (say
 * by its folder and by itself) is loaded once; loading it twice would only
 * duplicate its rows.  A file found as two kinds' data (customer/landing a
 * link to accelerometer/landing, say) is refused, and so is the run: its
 * rows would be loaded as one kind and then skipped for the other, and
 * which kind it holds is not for stedi-load to guess.
 */
bool
order_files(FileList *list)
{
	static const EntryOrder order = {file_key, compare_load_order};
	int			i;

	order_passed(list);
	if (list->nfiles == 0)
		return true;
	/* one file by any paths (links included) as two kinds' data? */
	qsort(list->files, (size_t) list->nfiles, sizeof(LoadFile),
		  compare_identity);
	for (i = 1; i < list->nfiles; i++)
	{
		const LoadFile *a = &list->files[i - 1];
		const LoadFile *b = &list->files[i];

		if (a->dev == b->dev && a->ino == b->ino && a->kind != b->kind)
		{
			load_error("\"%s\" (%s data) and \"%s\" (%s data) are one file: two kinds' folders lead to one folder, and which kind it holds is ambiguous; nothing was loaded",
					   a->display, stedi_kind_name[a->kind],
					   b->display, stedi_kind_name[b->kind]);
			return false;
		}
	}
	list->nfiles = sort_unique(list->files, list->nfiles, sizeof(LoadFile),
							   &order, drop_file);
	return true;
}
