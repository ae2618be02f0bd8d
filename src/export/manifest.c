/*
 * manifest.c
 *		The manifest of an export (manifest.json), and putting the files
 *		in place: the files, then the manifest, then removing what an
 *		earlier export wrote and this one did not.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export.h"

void
write_manifest(Export *ex, FILE *out)
{
	int64_t		total = 0;

	fprintf(out, "{\n  \"exported_at\": \"%s\",\n", ex->exported_at);
	fprintf(out, "  \"exported_by\": \"stedi-export %s\",\n", STEDI_EXPORT_VERSION);
	fprintf(out, "  \"table\": \"curated.machine_learning\",\n");
	fprintf(out, "  \"format\": \"%s\",\n", ex->parquet ? "parquet" : "csv");
	fprintf(out, "  \"compression\": \"%s\",\n", ex->gzip ? "gzip" : "none");
	if (ex->parquet)
		fprintf(out, "  \"row_group_bytes\": %zu,\n", ex->row_group_bytes);
	fprintf(out, "  \"reflects\": %s,\n", ex->state);
	fprintf(out, "  \"columns\": [");
	for (int i = 0; i < ex->ncolumns; i++)
	{
		ExportColumn *c = &ex->columns[i];

		fprintf(out, "%s\n    {\"name\": ", i ? "," : "");
		json_out_string(out, c->name);
		fprintf(out, ", \"type\": ");
		json_out_string(out, c->sql_type);
		if (ex->parquet)
			fprintf(out, ", \"parquet_type\": \"%s\"", c->parquet_name);
		fprintf(out, ", \"nullable\": %s}", c->nullable ? "true" : "false");
	}
	fprintf(out, "\n  ],\n  \"files\": [");
	for (int i = 0; i < ex->nfiles; i++)
	{
		ExportFile *f = &ex->files[i];

		fprintf(out, "%s\n    {\"split\": \"%s\", \"file\": ", i ? "," : "", f->split);
		json_out_string(out, f->name);
		fprintf(out, ", \"rows\": %" PRId64 ", \"bytes\": %" PRId64 ", \"sha256\": \"%s\"}",
				f->rows, f->bytes, f->sha256);
		total += f->rows;
	}
	fprintf(out, "\n  ],\n  \"rows\": %" PRId64 "\n}\n", total);
}

/* Rename the files into place, the manifest last, and make that durable. */
void
publish(Export *ex)
{
	char	   *manifest = path_in(ex->outdir, "manifest.json");
	char	   *partial = path_in(ex->outdir, ".manifest.json.partial");
	FILE	   *out;
	int			dir;

	partials[npartials++] = partial;
	out = fopen(partial, "w");

	if (out == NULL)
		fail("could not create %s: %s", partial, strerror(errno));
	write_manifest(ex, out);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0)
		fail("could not write %s: %s", partial, strerror(errno));
	for (int i = 0; i < ex->nfiles; i++)
		if (rename(ex->files[i].partial, ex->files[i].path) != 0)
			fail("could not rename %s: %s", ex->files[i].partial, strerror(errno));
	if (rename(partial, manifest) != 0)
		fail("could not rename %s: %s", partial, strerror(errno));
	npartials = 0;				/* all in place */
	/* what an earlier export wrote and this one did not */
	for (int s = 0; s < NSPLITS; s++)
	{
		static const char *const suffixes[] = {"parquet", "csv", "csv.gz"};

		for (int k = 0; k < 3; k++)
		{
			char		name[64];
			bool		written = false;
			char	   *path;

			snprintf(name, sizeof(name), "%s.%s", split_names[s], suffixes[k]);
			for (int i = 0; i < ex->nfiles; i++)
				written |= strcmp(ex->files[i].name, name) == 0;
			if (written)
				continue;
			path = path_in(ex->outdir, name);
			if (unlink(path) != 0 && errno != ENOENT)
				fail("could not remove %s, of an earlier export: %s", path, strerror(errno));
			free(path);
		}
	}
	dir = open(ex->outdir, O_RDONLY);
	if (dir < 0 || fsync(dir) != 0)
		fail("could not sync %s: %s", ex->outdir, strerror(errno));
	close(dir);
	free(manifest);
	free(partial);
}

