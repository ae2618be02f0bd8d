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
 * A landing folder is read whole (see folders.c).  In a KIND folder,
 * everything but landing/ and Glue's trusted/ and curated/ is named
 * (Landing/ with a hint); with --kind, so is another kind's landing/.
 * At the root, a folder that is not a kind folder is named too, with a hint
 * when its name looks like a kind's (customers/, Step-Trainer/), and so is
 * a data file; other files there (a README) and hidden ones are not data
 * by any name, and are left out without a word.
 *
 * Everything is checked here (and in order_files, file_list.c) before
 * anything is loaded: a PATH that is missing or unreadable, or one file
 * found as two kinds' data, stops the run while the database is untouched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "files.h"
#include "util.h"

static bool
is_folder(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
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

/*
 * An entry of a KIND folder: its landing/ is read (unless --kind, *arg,
 * names another kind), Glue's trusted/ and curated/ are left out without a
 * word, and everything else is passed over, with a hint for a landing
 * folder spelled in another case (Landing/).
 */
static void
visit_kind_entry(FileList *list, FolderEntry *e, void *arg)
{
	int			forced_kind = *(const int *) arg;
	struct stat st;
	int			err;

	if (stat(e->path, &st) != 0)
	{
		struct stat lst;

		e->reason = errno == ENOENT && lstat(e->path, &lst) == 0 ?
			"a symbolic link to nothing" : unreadable_reason(errno);
	}
	else if ((e->folder = S_ISDIR(st.st_mode)) &&
			 strcmp(e->name, STEDI_LANDING_DIR) == 0)
	{
		if (forced_kind >= 0 && forced_kind != e->kind)
		{
			char	   *r = load_malloc(64);

			snprintf(r, 64, "not %s data (--kind %s)",
					 stedi_kind_name[forced_kind],
					 stedi_kind_name[forced_kind]);
			e->reason = r;
		}
		else if (!add_landing(list, e->path, e->shown, (StediKind) e->kind,
							  e->argno, &err))
			e->reason = unreadable_reason(err);
	}
	else if (e->folder && (strcmp(e->name, "trusted") == 0 ||
						   strcmp(e->name, "curated") == 0))
	{
		/* Glue's zones beside landing/: not landing data */
	}
	else if (e->name[0] == '.')
		e->reason = e->folder ? "a hidden folder" : "a hidden file";
	else if (e->folder)
	{
		e->reason = "not a landing folder (only KIND/landing/ is read)";
		if (strcasecmp(e->name, STEDI_LANDING_DIR) == 0)
			e->hint = STEDI_LANDING_DIR "/";
	}
	else if (S_ISREG(st.st_mode) && is_data_name(e->name))
		e->reason = "a data file outside KIND/landing/";
	else
		e->reason = "a file outside KIND/landing/";
}

/*
 * The entries of KIND folder dir (shown as display); see visit_kind_entry.
 * False, with the errno in *err, if dir cannot be read.
 */
static bool
collect_kind_folder(FileList *list, const char *dir, const char *display,
					StediKind k, int argno, int forced_kind, int *err)
{
	return read_folder(list, dir, display, (int) k, argno, err,
					   visit_kind_entry, &forced_kind);
}

/*
 * An entry of the root of a layout: a kind folder is read; a folder that
 * is no kind's, and a data file, are passed over; other files (a README)
 * and hidden ones are not data by any name, and are left out.  *arg is
 * --kind, or -1.
 */
static void
visit_root_entry(FileList *list, FolderEntry *e, void *arg)
{
	int			forced_kind = *(const int *) arg;
	struct stat st;
	int			k = kind_from_name(e->name);
	int			err;

	if (e->name[0] == '.' || stat(e->path, &st) != 0)
	{
		/* hidden, or a dangling link: not data by any name */
	}
	else if (S_ISDIR(st.st_mode) && k >= 0)
	{
		if (!collect_kind_folder(list, e->path, e->shown, (StediKind) k,
								 e->argno, forced_kind, &err))
		{
			e->kind = k;
			e->folder = true;
			e->reason = unreadable_reason(err);
		}
	}
	else if (S_ISDIR(st.st_mode))
	{
		e->folder = true;
		e->reason = "not a kind folder";
		e->hint = kind_hint(kind_near_miss(e->name));
	}
	else if (S_ISREG(st.st_mode) && is_data_name(e->name))
		e->reason = "a data file outside KIND/landing/";
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

	if (result == 1)
		visit_entries(list, names, n, rp, arg, -1, argno, visit_root_entry,
					  &forced_kind);
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
