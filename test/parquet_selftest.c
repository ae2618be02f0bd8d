/*
 * parquet_selftest.c
 *		Writes Parquet files with src/export/parquet.c and, beside each, the
 *		rows it holds as JSON lines, for test/t_parquet.sh to compare with
 *		what DuckDB reads: every type, NULLs, times before 1970 and after
 *		2038, text with quotes, commas, newlines and non-ASCII characters,
 *		long text, many row groups, GZIP and no compression, no rows.
 *
 *	parquet_selftest OUTDIR
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "parquet.h"

static const ParquetColumn columns[] = {
	{"i", PARQUET_INT32, false},
	{"big", PARQUET_INT64, true},
	{"d", PARQUET_DOUBLE, true},
	{"s", PARQUET_STRING, true},
	{"u", PARQUET_UUID, true},
	{"t", PARQUET_TIMESTAMP, true},
};
#define NCOLUMNS ((int) (sizeof(columns) / sizeof(columns[0])))

static const char *const texts[] = {
	"", "plain", "with \"quotes\"", "a, comma", "two\nlines", "tab\there",
	"caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x91\x9f step", "back\\slash",
	"'single'", "\r\n crlf",
};
#define NTEXTS ((int) (sizeof(texts) / sizeof(texts[0])))

static const int64_t times[] = {
	0, -1, -2208988800000000,	/* 1900-01-01 */
	2147483648000000,			/* 2038-01-19 03:14:08, past 32-bit seconds */
	4102444800000000,			/* 2100-01-01 */
	1656669600123456,			/* 2022-07-01 10:00:00.123456 */
};
#define NTIMES ((int) (sizeof(times) / sizeof(times[0])))

/* one file of n rows; returns 0 when written */
static int
write_file(const char *dir, const char *name, int n, ParquetCodec codec,
		   size_t row_group_bytes)
{
	char		path[4096];
	FILE	   *out,
			   *expected;
	ParquetWriter *w;
	char	   *long_text = malloc(100001);

	memset(long_text, 'x', 100000);
	long_text[100000] = '\0';
	snprintf(path, sizeof(path), "%s/%s.parquet", dir, name);
	out = fopen(path, "wb");
	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, name);
	expected = fopen(path, "w");
	if (out == NULL || expected == NULL)
	{
		perror(path);
		return 1;
	}
	w = parquet_open(out, columns, NCOLUMNS, codec, row_group_bytes, "stedi parquet_selftest");
	for (int r = 0; r < n; r++)
	{
		int32_t		i = r == 1 ? INT32_MIN : r == 2 ? INT32_MAX : r * 7 - 1000;
		int64_t		big = r == 3 ? INT64_MIN : r == 4 ? INT64_MAX : (int64_t) r * 1000003;
		double		d = r == 5 ? -0.0 : r == 6 ? 1e308 : r == 7 ? 5e-324 : r / 3.0 - 17;
		const char *s = r == 8 ? long_text : texts[r % NTEXTS];
		unsigned char u[16];
		char		uuid[37];
		int64_t		t = times[r % NTIMES] + r;

		for (int k = 0; k < 16; k++)
			u[k] = (unsigned char) (r * 31 + k * 17 + (r >> 8));
		snprintf(uuid, sizeof(uuid),
				 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
				 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
				 u[10], u[11], u[12], u[13], u[14], u[15]);

		parquet_put_int32(w, 0, i);
		fprintf(expected, "{\"i\": %" PRId32, i);
		/* every column but i is NULL in one row of 11, each in another */
		if (r % 11 == 1)
			parquet_put_null(w, 1), fprintf(expected, ", \"big\": null");
		else
			parquet_put_int64(w, 1, big), fprintf(expected, ", \"big\": %" PRId64, big);
		if (r % 11 == 2)
			parquet_put_null(w, 2), fprintf(expected, ", \"d\": null");
		else
			parquet_put_double(w, 2, d), fprintf(expected, ", \"d\": %.17g", d);
		fprintf(expected, ", \"s\": ");
		if (r % 11 == 3)
			parquet_put_null(w, 3), fprintf(expected, "null");
		else
			parquet_put_bytes(w, 3, s, strlen(s)), json_out_string(expected, s);
		if (r % 11 == 4)
			parquet_put_null(w, 4), fprintf(expected, ", \"u\": null");
		else
			parquet_put_bytes(w, 4, u, 16), fprintf(expected, ", \"u\": \"%s\"", uuid);
		if (r % 11 == 5)
			parquet_put_null(w, 5), fprintf(expected, ", \"t\": null");
		else
			parquet_put_timestamp(w, 5, t), fprintf(expected, ", \"t\": %" PRId64, t);
		fprintf(expected, "}\n");
		if (parquet_end_row(w) != 0)
		{
			perror(name);
			return 1;
		}
	}
	if (parquet_finish(w) != 0 || fclose(out) != 0 || fclose(expected) != 0)
	{
		perror(name);
		return 1;
	}
	free(long_text);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 2)
	{
		fprintf(stderr, "usage: parquet_selftest OUTDIR\n");
		return 2;
	}
	/* many row groups of about 4 kB, gzipped; one, uncompressed; none */
	if (write_file(argv[1], "groups", 3000, PARQUET_GZIP, 4096) ||
		write_file(argv[1], "plain", 3000, PARQUET_UNCOMPRESSED, 64 << 20) ||
		write_file(argv[1], "empty", 0, PARQUET_GZIP, 64 << 20))
		return 1;
	return 0;
}
