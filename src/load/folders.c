/*
 * folders.c
 *		Read a landing folder for stedi-load: its data files, and what else
 *		it holds, named with the reason it is passed over.
 *
 * A landing folder is read whole, sub-folders included (the year=2022/
 * month=06/ layout of S3 and Glue exports), in name order; a folder is read
 * once however many links lead to it, so a link loop ends.  Its files named
 * NAME.json, NAME.jsonl or NAME.ndjson in any letter case are data, each
 * also gzip-compressed as NAME.json.gz and so on.  Everything else in it is
 * passed over and named, with the reason: a run accounts for every file.
 * What cannot be read in it is passed over too, with the reason.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "util.h"

/* Can we read it?  Opening it is the only sure test.  0, or the errno. */
int
check_readable(const char *path)
{
	int			fd = open(path, O_RDONLY);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* "could not read it: Permission denied", allocated (and never freed) */
const char *
unreadable_reason(int err)
{
	const char *e = strerror(err);
	char	   *reason = load_malloc(strlen(e) + 32);

	sprintf(reason, "could not read it: %s", e);
	return reason;
}

/* What a file that is neither a regular file nor a folder is, in words. */
static const char *
special_file_reason(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "not a regular file (a named pipe)";
	if (S_ISSOCK(mode))
		return "not a regular file (a socket)";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "not a regular file (a device)";
	return "not a regular file";
}


/*
 * The real folders one PATH argument has read, to read each once: a link
 * back to a folder above would otherwise be followed without end.
 */
typedef struct FolderSet
{
	dev_t	   *dev;
	ino_t	   *ino;
	int			n;
	int			capacity;
} FolderSet;

/* Note the folder; false if it was read before. */
static bool
folder_set_add(FolderSet *set, const struct stat *st)
{
	int			i;

	/* a landing layout has few folders, even partitioned by day */
	for (i = 0; i < set->n; i++)
	{
		if (set->dev[i] == st->st_dev && set->ino[i] == st->st_ino)
			return false;
	}
	if (set->n == set->capacity)
	{
		set->capacity = set->capacity > 0 ? set->capacity * 2 : 16;
		set->dev = load_realloc(set->dev, sizeof(dev_t) * (size_t) set->capacity);
		set->ino = load_realloc(set->ino, sizeof(ino_t) * (size_t) set->capacity);
	}
	set->dev[set->n] = st->st_dev;
	set->ino[set->n] = st->st_ino;
	set->n++;
	return true;
}

static void
folder_set_free(FolderSet *set)
{
	free(set->dev);
	free(set->ino);
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * The names in folder dir but "." and "..", sorted bytewise so that files
 * load in the same order on every machine (an empty folder has none, but
 * not NULL).  NULL if the folder cannot be read, with the errno in *err.
 */
char **
list_folder(const char *dir, int *count, int *err)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	char	  **names;
	int			n = 0,
				capacity = 8;

	if (d == NULL)
	{
		*err = errno;
		return NULL;
	}
	names = load_malloc(sizeof(char *) * (size_t) capacity);
	while ((errno = 0, de = readdir(d)) != NULL)
	{
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == capacity)
		{
			capacity *= 2;
			names = load_realloc(names, sizeof(char *) * (size_t) capacity);
		}
		names[n++] = load_strdup(de->d_name);
	}
	if (errno != 0)
	{
		*err = errno;
		closedir(d);
		while (n > 0)
			free(names[--n]);
		free(names);
		return NULL;
	}
	closedir(d);
	if (n > 0)
		qsort(names, (size_t) n, sizeof(char *), compare_names);
	*count = n;
	return names;
}

void
free_names(char **names, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void
visit_entries(FileList *list, char **names, int n, const char *dir,
			  const char *display, int kind, int argno, EntryVisit visit,
			  void *arg)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		FolderEntry e;

		memset(&e, 0, sizeof(e));
		e.name = names[i];
		e.path = join_path(dir, names[i]);
		e.shown = join_path(display, names[i]);
		e.kind = kind;
		e.argno = argno;
		visit(list, &e, arg);
		if (e.reason != NULL)
			pass_over(list, e.kind, argno, e.shown, e.path, e.folder,
					  e.reason, e.hint);
		else
		{
			free(e.path);
			free(e.shown);
		}
	}
}

bool
read_folder(FileList *list, const char *dir, const char *display, int kind,
			int argno, int *err, EntryVisit visit, void *arg)
{
	char	  **names;
	int			n = 0;

	names = list_folder(dir, &n, err);
	if (names == NULL)
		return false;
	visit_entries(list, names, n, dir, display, kind, argno, visit, arg);
	free_names(names, n);
	return true;
}

/*
 * An entry of landing folder dir: a data file is added, a sub-folder read
 * in turn, anything else passed over.  arg is the FolderSet of the PATH
 * argument.
 */
static void
visit_landing_entry(FileList *list, FolderEntry *e, void *arg)
{
	FolderSet  *seen = arg;
	struct stat lst;
	struct stat st;
	int			err;

	if (lstat(e->path, &lst) != 0)
		e->reason = unreadable_reason(errno);
	else if (S_ISLNK(lst.st_mode) && stat(e->path, &st) != 0)
		e->reason = errno == ENOENT ? "a symbolic link to nothing" :
			unreadable_reason(errno);
	else
	{
		if (!S_ISLNK(lst.st_mode))
			st = lst;
		e->folder = S_ISDIR(st.st_mode);
		if (e->name[0] == '.')
			e->reason = e->folder ? "a hidden folder" : "a hidden file";
		else if (e->folder)
		{
			if (!folder_set_add(seen, &st))
				e->reason = "a folder read already (a link loop, or a second link to it)";
			else if (!read_folder(list, e->path, e->shown, e->kind, e->argno,
								  &err, visit_landing_entry, seen))
				e->reason = unreadable_reason(err);
		}
		else if (!S_ISREG(st.st_mode))
			e->reason = special_file_reason(st.st_mode);
		else if (!is_data_name(e->name))
			e->reason = "its name does not end in .json, .jsonl or .ndjson (or one of those and .gz)";
		else if ((err = check_readable(e->path)) != 0)
			e->reason = unreadable_reason(err);
		else
		{
			add_file(list, (StediKind) e->kind, e->argno, e->shown, e->path,
					 &st);
			e->shown = e->path = NULL;	/* the list owns them now */
		}
	}
}

/*
 * Read landing folder dir, afresh: with the folders of one PATH argument.
 * False, with the errno in *err, if dir cannot be read.
 */
bool
add_landing(FileList *list, const char *dir, const char *display,
			StediKind kind, int argno, int *err)
{
	FolderSet	seen = {0};
	struct stat st;
	bool		ok;

	if (stat(dir, &st) == 0)
		(void) folder_set_add(&seen, &st);
	ok = read_folder(list, dir, display, kind, argno, err,
					 visit_landing_entry, &seen);
	folder_set_free(&seen);
	return ok;
}
