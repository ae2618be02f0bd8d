/*
 * files.c
 *		Work out which files a stedi-load command line names, and the kind
 *		of each.
 *
 * A PATH is one of
 *		- the root of the landing layout, holding KIND/landing/NAME.json for
 *		  any of the kinds;
 *		- a KIND folder, holding landing/NAME.json;
 *		- a KIND/landing folder;
 *		- a single file, whose kind is --kind or else its folders' names
 *		  (.../KIND/landing/FILE);
 *		- with --kind, any other folder of NAME.json files.
 *
 * Everything is checked here, before anything is loaded: a path that is
 * missing or unreadable stops the run while the database is untouched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stedi_load.h"

/* The kind whose name is name, or -1. */
int
kind_from_name(const char *name)
{
	int			k;

	for (k = 0; k < STEDI_NKINDS; k++)
	{
		if (strcmp(name, stedi_kind_name[k]) == 0)
			return k;
	}
	return -1;
}

/* "a/b", except that "." and a trailing "/" of a are not repeated. */
static char *
join_path(const char *a, const char *b)
{
	size_t		alen = strlen(a);
	char	   *result;

	while (alen > 1 && a[alen - 1] == '/')
		alen--;
	if (alen == 1 && a[0] == '.')
		return load_strdup(b);

	result = load_malloc(alen + strlen(b) + 2);
	memcpy(result, a, alen);
	if (a[alen - 1] == '/')
		strcpy(result + alen, b);	/* a is "/" */
	else
	{
		result[alen] = '/';
		strcpy(result + alen + 1, b);
	}
	return result;
}

/*
 * The name of the folder that is `up` levels above the last component of
 * the absolute path rp (0: the last component itself), or "" if there is
 * none.  Copies into name, of size namesize.
 */
static void
path_component(const char *rp, int up, char *name, size_t namesize)
{
	const char *end = rp + strlen(rp);
	const char *start;

	for (;;)
	{
		start = end;
		while (start > rp && start[-1] != '/')
			start--;
		if (up-- == 0 || start == rp)
			break;
		end = start - 1;		/* the '/' before this component */
	}
	if (up >= 0 || (size_t) (end - start) >= namesize)
	{
		name[0] = '\0';
		return;
	}
	memcpy(name, start, (size_t) (end - start));
	name[end - start] = '\0';
}

/* The kind named by the folders above the last component of rp, or -1. */
static int
kind_from_folders(const char *rp, int landing_up)
{
	char		name[256];

	path_component(rp, landing_up, name, sizeof(name));
	if (strcmp(name, STEDI_LANDING_DIR) != 0)
		return -1;
	path_component(rp, landing_up + 1, name, sizeof(name));
	return kind_from_name(name);
}

static bool
is_folder(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Can we read it?  Opening it is the only sure test. */
static bool
check_readable(const char *path, const char *display)
{
	int			fd = open(path, O_RDONLY);

	if (fd < 0)
	{
		load_error("could not open \"%s\": %s", display, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

static void
add_file(FileList *list, StediKind kind, int argno, char *display,
		 char *realpath)
{
	struct stat st;
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
	f->display = display;
	f->realpath = realpath;
	f->size_bytes = stat(realpath, &st) == 0 ? (int64_t) st.st_size : 0;
}

static bool
has_json_suffix(const char *name)
{
	size_t		len = strlen(name);
	size_t		slen = strlen(STEDI_FILE_SUFFIX);

	return len > slen && strcmp(name + len - slen, STEDI_FILE_SUFFIX) == 0;
}

/*
 * Add the *.json files of folder dir (shown to the user as display) as
 * files of the given kind.  Hidden files and anything that is not a regular
 * file are passed over.
 */
static bool
add_folder(FileList *list, const char *dir, const char *display,
		   StediKind kind, int argno)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	bool		ok = true;

	if (d == NULL)
	{
		load_error("could not open \"%s\": %s", display, strerror(errno));
		return false;
	}
	while (ok && (errno = 0, de = readdir(d)) != NULL)
	{
		struct stat st;
		char	   *path;

		if (de->d_name[0] == '.' || !has_json_suffix(de->d_name))
			continue;
		path = join_path(dir, de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		{
			free(path);
			continue;
		}
		add_file(list, kind, argno, join_path(display, de->d_name), path);
		ok = check_readable(path, list->files[list->nfiles - 1].display);
	}
	if (ok && errno != 0)
	{
		load_error("could not read folder \"%s\": %s", display,
				   strerror(errno));
		ok = false;
	}
	closedir(d);
	return ok;
}

static bool
kind_conflict(int forced_kind, int kind, const char *arg)
{
	if (forced_kind < 0 || forced_kind == kind)
		return false;
	load_error("--kind %s contradicts \"%s\", which is %s data by its folder",
			   stedi_kind_name[forced_kind], arg, stedi_kind_name[kind]);
	return true;
}

/*
 * A folder argument: which of the accepted shapes is it?  rp is its real
 * path, arg what the user wrote.
 */
static bool
collect_folder(FileList *list, const char *arg, const char *rp, int argno,
			   int forced_kind)
{
	char		name[256];
	char	   *path;
	char	   *display;
	bool		is_root = false;
	bool		ok = true;
	int			k;

	/* KIND/landing */
	k = kind_from_folders(rp, 0);
	if (k >= 0)
	{
		if (kind_conflict(forced_kind, k, arg))
			return false;
		return add_folder(list, rp, arg, (StediKind) k, argno);
	}

	/* KIND, holding landing/ */
	path_component(rp, 0, name, sizeof(name));
	k = kind_from_name(name);
	path = join_path(rp, STEDI_LANDING_DIR);
	if (k >= 0 && is_folder(path))
	{
		if (kind_conflict(forced_kind, k, arg))
			ok = false;
		else
		{
			display = join_path(arg, STEDI_LANDING_DIR);
			ok = add_folder(list, path, display, (StediKind) k, argno);
			free(display);
		}
		free(path);
		return ok;
	}
	free(path);

	/* the root of the layout; --kind picks one kind out of it */
	for (k = 0; ok && k < STEDI_NKINDS; k++)
	{
		char		sub[64];

		snprintf(sub, sizeof(sub), "%s/%s", stedi_kind_name[k],
				 STEDI_LANDING_DIR);
		path = join_path(rp, sub);
		if (is_folder(path))
		{
			is_root = true;
			if (forced_kind < 0 || forced_kind == k)
			{
				display = join_path(arg, sub);
				ok = add_folder(list, path, display, (StediKind) k, argno);
				free(display);
			}
		}
		free(path);
	}
	if (is_root || !ok)
		return ok;

	/* any other folder: only if the user says what it holds */
	if (forced_kind >= 0)
		return add_folder(list, rp, arg, (StediKind) forced_kind, argno);

	load_error("\"%s\" is not a landing folder: expected customer/, accelerometer/ or step_trainer/ with landing/*.json inside (or use --kind)",
			   arg);
	return false;
}

/*
 * Add the files named by command line argument arg (the argno'th PATH).
 * forced_kind is the --kind given, or -1.  On a problem, prints it and
 * returns false.
 */
bool
collect_path(FileList *list, const char *arg, int argno, int forced_kind)
{
	struct stat st;
	char	   *rp;
	int			k;

	if (stat(arg, &st) != 0 || (rp = realpath(arg, NULL)) == NULL)
	{
		load_error("could not open \"%s\": %s", arg, strerror(errno));
		return false;
	}

	if (S_ISDIR(st.st_mode))
	{
		bool		ok = collect_folder(list, arg, rp, argno, forced_kind);

		free(rp);
		return ok;
	}

	if (!S_ISREG(st.st_mode))
	{
		load_error("could not open \"%s\": not a regular file or folder", arg);
		free(rp);
		return false;
	}

	k = kind_from_folders(rp, 1);
	if (forced_kind >= 0)
	{
		if (k >= 0 && kind_conflict(forced_kind, k, arg))
		{
			free(rp);
			return false;
		}
		k = forced_kind;
	}
	else if (k < 0)
	{
		load_error("cannot tell what kind of data \"%s\" holds: use --kind customer, accelerometer or step_trainer (or put it in KIND/landing/)",
				   arg);
		free(rp);
		return false;
	}

	if (!check_readable(rp, arg))
	{
		free(rp);
		return false;
	}
	add_file(list, (StediKind) k, argno, load_strdup(arg), rp);
	return true;
}

static int
compare_realpath(const void *a, const void *b)
{
	const LoadFile *fa = a;
	const LoadFile *fb = b;
	int			c = strcmp(fa->realpath, fb->realpath);

	if (c != 0)
		return c;
	return fa->argno - fb->argno;
}

static int
compare_load_order(const void *a, const void *b)
{
	const LoadFile *fa = a;
	const LoadFile *fb = b;

	if (fa->kind != fb->kind)
		return (int) fa->kind - (int) fb->kind;
	if (fa->argno != fb->argno)
		return fa->argno - fb->argno;
	return strcmp(fa->display, fb->display);
}

/*
 * Put the files in loading order: customer first, then accelerometer, then
 * step_trainer (customers are what the other two refer to), and by name
 * within a kind.  A file named twice (say by its folder and by itself) is
 * loaded once; loading it twice would only duplicate its rows.
 */
void
order_files(FileList *list)
{
	int			i,
				n = 0;

	if (list->nfiles == 0)
		return;
	qsort(list->files, (size_t) list->nfiles, sizeof(LoadFile),
		  compare_realpath);
	for (i = 0; i < list->nfiles; i++)
	{
		if (n > 0 && strcmp(list->files[n - 1].realpath,
							list->files[i].realpath) == 0)
		{
			free(list->files[i].display);
			free(list->files[i].realpath);
			continue;
		}
		list->files[n++] = list->files[i];
	}
	list->nfiles = n;
	qsort(list->files, (size_t) list->nfiles, sizeof(LoadFile),
		  compare_load_order);
}
