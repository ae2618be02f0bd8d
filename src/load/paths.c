/*
 * paths.c
 *		What a path or a name says to stedi-load: the kind its folders name,
 *		whether it is a data file and gzip, what kind a folder name looks
 *		like it means; paths joined, and shown as text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "files.h"
#include "utf8.h"
#include "util.h"

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
char *
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
void
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
int
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
int
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
bool
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
int
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



/* "customer/": what a hint says */
const char *
kind_hint(int k)
{
	static char hints[STEDI_NKINDS][64];

	if (k < 0)
		return NULL;
	if (hints[k][0] == '\0')
		snprintf(hints[k], sizeof(hints[k]), "%s/", stedi_kind_name[k]);
	return hints[k];
}
