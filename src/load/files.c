/*
 * files.c
 *		Work out which files a stedi-load command line names, and the kind
 *		of each, and which it passes over and why.
 *
 * A PATH is one of
 *		- the root of the landing layout, holding KIND/landing/ for any of
 *		  the kinds;
 *		- a KIND folder, holding landing/;
 *		- a KIND/landing folder, or a sub-folder of one;
 *		- a single file, whose kind is --kind or else its folders' names
 *		  (.../KIND/landing/[...]/FILE);
 *		- with --kind, any other folder, read as a landing folder.
 *
 * A landing folder is read whole, sub-folders included (the year=2022/
 * month=06/ layout of S3 and Glue exports), in name order; a folder is read
 * once however many links lead to it, so a link loop ends.  Its files named
 * NAME.json, NAME.jsonl or NAME.ndjson in any letter case are data, each
 * also gzip-compressed as NAME.json.gz and so on.  Everything else in it is
 * passed over and named, with the reason: a run accounts for every file.
 * What cannot be read in it is passed over too, with the reason.  In a
 * KIND folder, everything but landing/ and Glue's trusted/ and curated/ is
 * named (Landing/ with a hint); with --kind, so is another kind's landing/.
 * At the root, a folder that is not a kind folder is named too, with a hint
 * when its name looks like a kind's (customers/, Step-Trainer/), and so is
 * a data file; other files there (a README) and hidden ones are not data
 * by any name, and are left out without a word.
 *
 * Everything is checked here, before anything is loaded: a PATH that is
 * missing or unreadable, or one file found as two kinds' data, stops the
 * run while the database is untouched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
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
 * A path as text, newly allocated: what landing.source_file.path and
 * stedi.ingest_log record, and what the output shows.  A file name is bytes,
 * not always UTF-8, and the server takes only UTF-8 text: valid UTF-8 is
 * kept, each other byte is written as the four characters \xHH, and so is
 * a control character (\n, \t and \r as such), so that a path shows on
 * one line.
 */
char *
path_text(const char *raw)
{
	const unsigned char *s = (const unsigned char *) raw;
	size_t		len = strlen(raw);
	char	   *out = load_malloc(4 * len + 1);
	size_t		n = 0;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		int			clen = utf8_char_len(s + i, len - i);

		if (c == '\n' || c == '\t' || c == '\r')
		{
			out[n++] = '\\';
			out[n++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			i++;
		}
		else if (clen == 0 || c < 0x20 || c == 0x7f)
		{
			n += (size_t) sprintf(out + n, "\\x%02x", c);
			i++;
		}
		else
		{
			memcpy(out + n, s + i, (size_t) clen);
			n += (size_t) clen;
			i += (size_t) clen;
		}
	}
	out[n] = '\0';
	return out;
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

/*
 * The kind of a file somewhere below a KIND/landing folder (in a
 * sub-folder of it, say), or -1: the nearest landing folder above decides.
 */
static int
kind_from_ancestors(const char *rp)
{
	char		name[256];
	int			up;

	for (up = 1;; up++)
	{
		path_component(rp, up, name, sizeof(name));
		if (name[0] == '\0')
			return -1;
		if (strcmp(name, STEDI_LANDING_DIR) == 0)
			return kind_from_folders(rp, up);
	}
}

static bool
is_folder(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Can we read it?  Opening it is the only sure test.  0, or the errno. */
static int
check_readable(const char *path)
{
	int			fd = open(path, O_RDONLY);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* "could not read it: Permission denied", allocated (and never freed) */
static const char *
unreadable_reason(int err)
{
	const char *e = strerror(err);
	char	   *reason = load_malloc(strlen(e) + 32);

	sprintf(reason, "could not read it: %s", e);
	return reason;
}

static void
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

/* Does name end in suffix, ignoring ASCII letter case? */
static bool
ends_with_nocase(const char *name, size_t len, const char *suffix)
{
	size_t		slen = strlen(suffix);

	return len >= slen && strncasecmp(name + len - slen, suffix, slen) == 0;
}

/* Does a name ending in .gz (any case) say the file is gzip-compressed? */
bool
is_gzip_name(const char *name)
{
	return ends_with_nocase(name, strlen(name), ".gz");
}

/*
 * Is name a landing file's: something, then .json, .jsonl or .ndjson in any
 * letter case, maybe then .gz?
 */
static bool
is_data_name(const char *name)
{
	static const char *const suffixes[] = {".json", ".jsonl", ".ndjson"};
	size_t		len = strlen(name);
	int			i;

	if (ends_with_nocase(name, len, ".gz"))
		len -= 3;
	for (i = 0; i < (int) (sizeof(suffixes) / sizeof(suffixes[0])); i++)
	{
		if (len > strlen(suffixes[i]) &&
			ends_with_nocase(name, len, suffixes[i]))
			return true;
	}
	return false;
}

/*
 * The kind a folder name looks like it means, or -1: the same letters in
 * another case, a plural, hyphens, spaces or no separator for the
 * underscore, "landing" before or after (customers, Step-Trainer,
 * stepTrainer, accelerometers, step_trainer_landing).
 */
static int
kind_near_miss(const char *name)
{
	char		norm[64];
	size_t		n = 0;
	const char *c;
	int			k;

	for (c = name; *c != '\0'; c++)
	{
		if (*c == '_' || *c == '-' || *c == ' ' || *c == '.')
			continue;
		if (n == sizeof(norm) - 1)
			return -1;
		norm[n++] = (*c >= 'A' && *c <= 'Z') ? (char) (*c - 'A' + 'a') : *c;
	}
	norm[n] = '\0';
	if (n > 7 && strcmp(norm + n - 7, "landing") == 0)
		norm[n -= 7] = '\0';
	else if (n > 7 && strncmp(norm, "landing", 7) == 0)
	{
		memmove(norm, norm + 7, n - 6);
		n -= 7;
	}
	if (n > 1 && norm[n - 1] == 's')
		norm[--n] = '\0';
	for (k = 0; k < STEDI_NKINDS; k++)
	{
		const char *kn = stedi_kind_name[k];
		size_t		i = 0;

		/* the kind's name without its underscores */
		for (c = kn; *c != '\0' && i <= n; c++)
		{
			if (*c == '_')
				continue;
			if (norm[i] != *c)
				break;
			i++;
		}
		if (*c == '\0' && i == n)
			return k;
	}
	return -1;
}

static void
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
static char **
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

static void
free_names(char **names, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Name what was passed over; a folder's name is shown ending in "/". */
static void
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

/*
 * Add the data files of landing folder dir (shown to the user as display),
 * and of its sub-folders, as files of the given kind; name everything else
 * in it as passed over, what cannot be read included.  False, with the
 * errno in *err, if dir itself cannot be read (nothing is added then).
 */
static bool
add_folder(FileList *list, FolderSet *seen, const char *dir,
		   const char *display, StediKind kind, int argno, int *err)
{
	char	  **names;
	int			n = 0;
	int			i;

	names = list_folder(dir, &n, err);
	if (names == NULL)
		return false;
	for (i = 0; i < n; i++)
	{
		const char *name = names[i];
		char	   *path = join_path(dir, name);
		char	   *shown = join_path(display, name);
		struct stat lst;
		struct stat st;
		const char *reason = NULL;
		bool		folder = false;
		int			e;

		if (lstat(path, &lst) != 0)
			reason = unreadable_reason(errno);
		else if (S_ISLNK(lst.st_mode) && stat(path, &st) != 0)
			reason = errno == ENOENT ? "a symbolic link to nothing" :
				unreadable_reason(errno);
		else
		{
			if (!S_ISLNK(lst.st_mode))
				st = lst;
			folder = S_ISDIR(st.st_mode);
			if (name[0] == '.')
				reason = folder ? "a hidden folder" : "a hidden file";
			else if (folder)
			{
				if (!folder_set_add(seen, &st))
					reason = "a folder read already (a link loop, or a second link to it)";
				else if (!add_folder(list, seen, path, shown, kind, argno, &e))
					reason = unreadable_reason(e);
			}
			else if (!S_ISREG(st.st_mode))
				reason = special_file_reason(st.st_mode);
			else if (!is_data_name(name))
				reason = "its name does not end in .json, .jsonl or .ndjson (or one of those and .gz)";
			else if ((e = check_readable(path)) != 0)
				reason = unreadable_reason(e);
			else
			{
				add_file(list, kind, argno, shown, path, &st);
				shown = path = NULL;	/* the list owns them now */
			}
		}
		if (reason != NULL)
		{
			pass_over(list, kind, argno, shown, path, folder, reason, NULL);
			shown = path = NULL;
		}
		free(path);
		free(shown);
	}
	free_names(names, n);
	return true;
}

/*
 * Read landing folder dir, afresh: with the folders of one PATH argument.
 * False, with the errno in *err, if dir cannot be read.
 */
static bool
add_landing(FileList *list, const char *dir, const char *display,
			StediKind kind, int argno, int *err)
{
	FolderSet	seen = {0};
	struct stat st;
	bool		ok;

	if (stat(dir, &st) == 0)
		(void) folder_set_add(&seen, &st);
	ok = add_folder(list, &seen, dir, display, kind, argno, err);
	folder_set_free(&seen);
	return ok;
}

/* A landing folder named as a PATH: it must be readable. */
static bool
add_landing_arg(FileList *list, const char *dir, const char *display,
				StediKind kind, int argno)
{
	int			err;

	if (add_landing(list, dir, display, kind, argno, &err))
		return true;
	load_error("could not open \"%s\": %s", path_text(display), strerror(err));
	return false;
}

static bool
kind_conflict(int forced_kind, int kind, const char *arg)
{
	if (forced_kind < 0 || forced_kind == kind)
		return false;
	load_error("--kind %s contradicts \"%s\", which is %s data by its folder",
			   stedi_kind_name[forced_kind], path_text(arg),
			   stedi_kind_name[kind]);
	return true;
}

/* "a/b/" for a folder named b in a */
static char *
join_folder(const char *a, const char *b)
{
	char	   *joined = join_path(a, b);
	char	   *result = load_malloc(strlen(joined) + 2);

	sprintf(result, "%s/", joined);
	free(joined);
	return result;
}

/* "customer/": what a hint says */
static const char *
kind_hint(int k)
{
	static char hints[STEDI_NKINDS][64];

	if (k < 0)
		return NULL;
	if (hints[k][0] == '\0')
		snprintf(hints[k], sizeof(hints[k]), "%s/", stedi_kind_name[k]);
	return hints[k];
}

/*
 * The entries of KIND folder dir (shown as display): read its landing/
 * (unless --kind names another kind), leave out Glue's trusted/ and
 * curated/ without a word, and name everything else as passed over, with a
 * hint for a landing folder spelled in another case (Landing/).  False,
 * with the errno in *err, if dir cannot be read.
 */
static bool
collect_kind_folder(FileList *list, const char *dir, const char *display,
					StediKind k, int argno, int forced_kind, int *err)
{
	char	  **names;
	int			n = 0;
	int			i;

	names = list_folder(dir, &n, err);
	if (names == NULL)
		return false;
	for (i = 0; i < n; i++)
	{
		const char *name = names[i];
		char	   *path = join_path(dir, name);
		char	   *shown = join_path(display, name);
		struct stat st;
		const char *reason = NULL;
		const char *hint = NULL;
		bool		folder = false;
		int			e;

		if (stat(path, &st) != 0)
		{
			struct stat lst;

			reason = errno == ENOENT && lstat(path, &lst) == 0 ?
				"a symbolic link to nothing" : unreadable_reason(errno);
		}
		else if ((folder = S_ISDIR(st.st_mode)) &&
				 strcmp(name, STEDI_LANDING_DIR) == 0)
		{
			if (forced_kind >= 0 && forced_kind != (int) k)
			{
				char	   *r = load_malloc(64);

				snprintf(r, 64, "not %s data (--kind %s)",
						 stedi_kind_name[forced_kind],
						 stedi_kind_name[forced_kind]);
				reason = r;
			}
			else if (!add_landing(list, path, shown, k, argno, &e))
				reason = unreadable_reason(e);
		}
		else if (folder && (strcmp(name, "trusted") == 0 ||
							strcmp(name, "curated") == 0))
		{
			/* Glue's zones beside landing/: not landing data */
		}
		else if (name[0] == '.')
			reason = folder ? "a hidden folder" : "a hidden file";
		else if (folder)
		{
			reason = "not a landing folder (only KIND/landing/ is read)";
			if (strcasecmp(name, STEDI_LANDING_DIR) == 0)
				hint = STEDI_LANDING_DIR "/";
		}
		else if (S_ISREG(st.st_mode) && is_data_name(name))
			reason = "a data file outside KIND/landing/";
		else
			reason = "a file outside KIND/landing/";

		if (reason != NULL)
		{
			pass_over(list, (int) k, argno, shown, path, folder, reason, hint);
			shown = path = NULL;
		}
		free(path);
		free(shown);
	}
	free_names(names, n);
	return true;
}

/*
 * Is folder rp (arg to the user) the root of a layout?  It is when it holds
 * a kind folder, or (without --kind) a folder whose name looks like a
 * kind's, so that such a near miss is named rather than refused.  Then read
 * each kind folder (with --kind, only that kind's landing/) and name what
 * else at the root may be data: a folder that is no kind's, a data file.
 * Returns 1 if it was a root, 0 if not, -1 if it could not be read
 * (reported).
 */
static int
collect_root(FileList *list, const char *arg, const char *rp, int argno,
			 int forced_kind)
{
	char	  **names;
	int			n = 0;
	int			i;
	int			result = 0;
	int			err;

	names = list_folder(rp, &n, &err);
	if (names == NULL)
	{
		load_error("could not open \"%s\": %s", path_text(arg), strerror(err));
		return -1;
	}
	for (i = 0; i < n && result == 0; i++)
	{
		char	   *path = join_path(rp, names[i]);

		if ((kind_from_name(names[i]) >= 0 ||
			 (forced_kind < 0 && names[i][0] != '.' &&
			  kind_near_miss(names[i]) >= 0)) && is_folder(path))
			result = 1;
		free(path);
	}

	for (i = 0; i < n && result == 1; i++)
	{
		const char *name = names[i];
		char	   *path = join_path(rp, name);
		struct stat st;
		int			k = kind_from_name(name);

		if (name[0] == '.' || stat(path, &st) != 0)
		{
			/* hidden, or a dangling link: not data by any name */
		}
		else if (S_ISDIR(st.st_mode) && k >= 0)
		{
			char	   *display = join_path(arg, name);

			if (!collect_kind_folder(list, path, display, (StediKind) k,
									 argno, forced_kind, &err))
			{
				pass_over(list, k, argno, display, path, true,
						  unreadable_reason(err), NULL);
				display = path = NULL;
			}
			free(display);
		}
		else if (S_ISDIR(st.st_mode))
		{
			add_passed(list, -1, argno, join_folder(arg, name), path,
					   "not a kind folder", kind_hint(kind_near_miss(name)));
			path = NULL;
		}
		else if (S_ISREG(st.st_mode) && is_data_name(name))
		{
			add_passed(list, -1, argno, join_path(arg, name), path,
					   "a data file outside KIND/landing/", NULL);
			path = NULL;
		}
		free(path);
	}

	free_names(names, n);
	return result;
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
	char		parent[256];
	int			err;
	int			k;

	/* KIND/landing */
	k = kind_from_folders(rp, 0);
	if (k >= 0)
	{
		if (kind_conflict(forced_kind, k, arg))
			return false;
		return add_landing_arg(list, rp, arg, (StediKind) k, argno);
	}

	/* a sub-folder of KIND/landing */
	k = kind_from_ancestors(rp);
	if (k >= 0)
	{
		if (kind_conflict(forced_kind, k, arg))
			return false;
		return add_landing_arg(list, rp, arg, (StediKind) k, argno);
	}

	/* a KIND folder: its landing/, and what else it holds named */
	path_component(rp, 0, name, sizeof(name));
	k = kind_from_name(name);
	if (k >= 0)
	{
		if (kind_conflict(forced_kind, k, arg))
			return false;
		if (collect_kind_folder(list, rp, arg, (StediKind) k, argno, -1, &err))
			return true;
		load_error("could not open \"%s\": %s", path_text(arg), strerror(err));
		return false;
	}

	/* the root of the layout; --kind picks one kind out of it */
	switch (collect_root(list, arg, rp, argno, forced_kind))
	{
		case 1:
			return true;
		case -1:
			return false;
	}

	/* any other folder: only if the user says what it holds */
	if (forced_kind >= 0)
		return add_landing_arg(list, rp, arg, (StediKind) forced_kind, argno);

	/* Landing/ in a KIND folder: landing/ in another case */
	path_component(rp, 1, parent, sizeof(parent));
	if (strcasecmp(name, STEDI_LANDING_DIR) == 0 && kind_from_name(parent) >= 0)
	{
		load_error("\"%s\" is not a landing folder: did you mean %s/? (landing folders are named in lower case)",
				   path_text(arg), STEDI_LANDING_DIR);
		return false;
	}

	/* a near miss itself (customers/, or customers/landing/)? */
	k = kind_near_miss(name);
	if (k < 0 && strcmp(name, STEDI_LANDING_DIR) == 0)
		k = kind_near_miss(parent);
	if (k >= 0)
		load_error("\"%s\" is not a landing folder: did you mean %s/? (expected customer/, accelerometer/ or step_trainer/ with landing/ inside, or use --kind)",
				   path_text(arg), stedi_kind_name[k]);
	else
		load_error("\"%s\" is not a landing folder: expected customer/, accelerometer/ or step_trainer/ with landing/ inside (or use --kind)",
				   path_text(arg));
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
	int			err;

	if (stat(arg, &st) != 0 || (rp = realpath(arg, NULL)) == NULL)
	{
		load_error("could not open \"%s\": %s", path_text(arg), strerror(errno));
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
		load_error("could not open \"%s\": not a regular file or folder",
				   path_text(arg));
		free(rp);
		return false;
	}

	k = kind_from_ancestors(rp);
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
				   path_text(arg));
		free(rp);
		return false;
	}

	if ((err = check_readable(rp)) != 0)
	{
		load_error("could not open \"%s\": %s", path_text(arg), strerror(err));
		free(rp);
		return false;
	}
	/* any name will do; only a .gz ending matters, and says gzip */
	add_file(list, (StediKind) k, argno, load_strdup(arg), rp, &st);
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

static int
compare_passed_key(const void *a, const void *b)
{
	const PassedOver *pa = a;
	const PassedOver *pb = b;
	int			c = strcmp(pa->key, pb->key);

	if (c != 0)
		return c;
	return pa->argno - pb->argno;
}

static int
compare_passed_order(const void *a, const void *b)
{
	const PassedOver *pa = a;
	const PassedOver *pb = b;

	if (pa->argno != pb->argno)
		return pa->argno - pb->argno;
	return strcmp(pa->display, pb->display);
}

/*
 * What was passed over, in the order of the arguments and by name, each
 * once however many arguments led to it.
 */
static void
order_passed(FileList *list)
{
	int			i,
				n = 0;

	if (list->npassed == 0)
		return;
	qsort(list->passed, (size_t) list->npassed, sizeof(PassedOver),
		  compare_passed_key);
	for (i = 0; i < list->npassed; i++)
	{
		if (n > 0 && strcmp(list->passed[n - 1].key, list->passed[i].key) == 0)
		{
			free(list->passed[i].display);
			free(list->passed[i].key);
			continue;
		}
		list->passed[n++] = list->passed[i];
	}
	list->npassed = n;
	qsort(list->passed, (size_t) list->npassed, sizeof(PassedOver),
		  compare_passed_order);
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
	int			i,
				n = 0;

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
	qsort(list->files, (size_t) list->nfiles, sizeof(LoadFile),
		  compare_realpath);
	for (i = 0; i < list->nfiles; i++)
	{
		if (n > 0 && strcmp(list->files[n - 1].realpath,
							list->files[i].realpath) == 0)
		{
			free(list->files[i].display);
			free(list->files[i].realpath);
			free(list->files[i].path_text);
			continue;
		}
		list->files[n++] = list->files[i];
	}
	list->nfiles = n;
	qsort(list->files, (size_t) list->nfiles, sizeof(LoadFile),
		  compare_load_order);
	return true;
}
