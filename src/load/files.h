/*
 * files.h
 *		Which files a stedi-load command line names, and what it passes
 *		over: the list, and the four files that make it:
 *
 *		files.c			what a PATH argument is, and what it leads to
 *		folders.c		reading a landing folder
 *		paths.c			what a path or a name says
 *		file_list.c		adding to the list, and putting it in order
 */
#ifndef LOAD_FILES_H
#define LOAD_FILES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "stedi_common.h"

/* One input file, as found on the command line or inside a folder. */
typedef struct LoadFile
{
	StediKind	kind;
	int			argno;			/* which PATH argument it came from */
	char	   *display;		/* the path as the user wrote it, as text
								 * (see path_text) */
	char	   *realpath;		/* the real path, to open */
	char	   *path_text;		/* the same as text: what
								 * landing.source_file.path records */
	int64_t		size_bytes;		/* when listed, for the progress bar */
	dev_t		dev;			/* which file it is, whatever the path */
	ino_t		ino;
	bool		gzip;			/* named *.gz: read through zlib */
} LoadFile;

/* Something a folder held that is not loaded, and why. */
typedef struct PassedOver
{
	int			kind;			/* of the landing folder it is in, or -1 */
	int			argno;
	char	   *display;		/* as the user would write it, as text (see
								 * path_text); a folder ends in "/" */
	char	   *key;			/* the path it was found by, to name it once */
	const char *reason;
	const char *hint;			/* what a name looks like it means
								 * ("customer/", "landing/"), or NULL */
} PassedOver;

typedef struct FileList
{
	LoadFile   *files;
	int			nfiles;
	int			capacity;
	PassedOver *passed;
	int			npassed;
	int			passed_capacity;
} FileList;


/* ---- files.c ---- */

/*
 * Add the files named by command line argument arg (the argno'th PATH).
 * forced_kind is the --kind given, or -1.  On a problem, prints it and
 * returns false.
 */
extern bool collect_path(FileList *list, const char *arg, int argno,
						 int forced_kind);


/* ---- folders.c ---- */

/*
 * Read landing folder dir (shown to the user as display), afresh, with its
 * sub-folders: its data files are added as files of the given kind, the
 * rest passed over.  False, with the errno in *err, if dir cannot be read.
 */
extern bool add_landing(FileList *list, const char *dir, const char *display,
						StediKind kind, int argno, int *err);

/* An entry of a folder, for an EntryVisit to decide about. */
typedef struct FolderEntry
{
	const char *name;
	char	   *path;			/* the folder's path, then name */
	char	   *shown;			/* the same as the user would write it */
	int			kind;			/* of the data it would be, or -1 */
	int			argno;
	bool		folder;			/* is one: shown with a "/" after it */
	const char *reason;			/* why it is passed over; NULL: it is not */
	const char *hint;			/* what its name looks like it means */
} FolderEntry;

/*
 * What to do with an entry: set its reason to pass it over (maybe its
 * kind, folder and hint too), or take its path and shown (setting them to
 * NULL) for the list, or neither to leave it out without a word.
 */
typedef void (*EntryVisit) (FileList *list, FolderEntry *entry, void *arg);

/*
 * Hand each of the n names in folder dir (shown to the user as display) to
 * visit, as an entry of the given kind, and name what it passes over.
 */
extern void visit_entries(FileList *list, char **names, int n,
						  const char *dir, const char *display, int kind,
						  int argno, EntryVisit visit, void *arg);

/*
 * visit_entries for every name in folder dir; false, with the errno in
 * *err, if dir cannot be read.
 */
extern bool read_folder(FileList *list, const char *dir, const char *display,
						int kind, int argno, int *err, EntryVisit visit,
						void *arg);

/*
 * The names in folder dir but "." and "..", sorted bytewise; NULL with the
 * errno in *err if it cannot be read.  free_names frees them.
 */
extern char **list_folder(const char *dir, int *count, int *err);
extern void free_names(char **names, int n);

/* 0 if path can be opened for reading, else the errno */
extern int	check_readable(const char *path);

/* "could not read it: REASON" for errno err, allocated (and never freed) */
extern const char *unreadable_reason(int err);


/* ---- paths.c ---- */

extern int	kind_from_name(const char *name);
extern int	kind_from_folders(const char *rp, int landing_up);
extern int	kind_from_ancestors(const char *rp);
extern int	kind_near_miss(const char *name);
extern const char *kind_hint(int k);
extern bool is_gzip_name(const char *name);
extern bool is_data_name(const char *name);
extern char *path_text(const char *raw);
extern char *join_path(const char *a, const char *b);
extern void path_component(const char *rp, int up, char *name,
						   size_t namesize);


/* ---- file_list.c ---- */

/*
 * Add a file to load, or something passed over and why.  display (as the
 * user would write it) and realpath or key are the list's then.
 */
extern void add_file(FileList *list, StediKind kind, int argno,
					 char *display, char *realpath, const struct stat *st);
extern void add_passed(FileList *list, int kind, int argno, char *display,
					   char *key, const char *reason, const char *hint);

/* add_passed, naming a folder with a "/" after it */
extern void pass_over(FileList *list, int kind, int argno, char *shown,
					  char *path, bool folder, const char *reason,
					  const char *hint);

/*
 * Put the files in loading order, each once, and what was passed over in
 * the order it is named in; false (reported) if one file is two kinds'
 * data.
 */
extern bool order_files(FileList *list);

#endif							/* LOAD_FILES_H */
