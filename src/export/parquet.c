/*
 * parquet.c
 *		A streaming Parquet writer (see parquet.h).
 *
 * A file is "PAR1", the row groups, the footer (FileMetaData in Thrift's
 * compact protocol), the footer's length (4 bytes, little-endian) and
 * "PAR1" again.  Each row group holds one column chunk per column, each a
 * single data page (version 1): the definition levels of an optional
 * column (a 4-byte length, then one bit-packed run of the RLE/bit-packing
 * hybrid at bit width 1: 1 for a value, 0 for NULL), then the values,
 * PLAIN-encoded (little-endian numbers; a BYTE_ARRAY as a 4-byte length
 * and its bytes; a UUID's 16 bytes as they are).  With GZIP the page
 * after its header is compressed whole.
 */
#include "parquet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "thrift_compact.h"

/* parquet.thrift's numbers */
enum
{
	T_INT32 = 1, T_INT64 = 2, T_DOUBLE = 5, T_BYTE_ARRAY = 6,
	T_FIXED_LEN_BYTE_ARRAY = 7
};
enum
{
	REP_REQUIRED = 0, REP_OPTIONAL = 1
};
enum
{
	CONV_UTF8 = 0, CONV_TIMESTAMP_MICROS = 10, CONV_INT_32 = 17, CONV_INT_64 = 18
};
enum
{
	ENC_PLAIN = 0, ENC_RLE = 3
};
enum
{
	PAGE_DATA = 0
};

typedef struct ChunkMeta
{
	int64_t		data_page_offset;
	int64_t		uncompressed;	/* page header included */
	int64_t		compressed;
	int64_t		values;
} ChunkMeta;

typedef struct RowGroupMeta
{
	int64_t		rows;
	int64_t		offset;
	int64_t		uncompressed;
	int64_t		compressed;
	ChunkMeta  *chunks;
} RowGroupMeta;

typedef struct ColumnState
{
	ParquetColumn column;
	ByteBuffer	values;
	ByteBuffer	defined;		/* one bit per row: 1 for a value */
	int64_t		row_values;		/* rows in this group, NULLs included */
} ColumnState;

struct ParquetWriter
{
	FILE	   *out;
	int64_t		offset;			/* bytes written */
	ParquetCodec codec;
	size_t		row_group_bytes;
	char	   *created_by;
	int			ncolumns;
	ColumnState *columns;
	int64_t		group_rows;
	int64_t		rows;
	RowGroupMeta *groups;
	int			ngroups;
	int			groups_cap;
	ByteBuffer	page;			/* scratch: a page's body, its header */
	ByteBuffer	packed;
	ByteBuffer	header;
};

static void *
checked_calloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

static int
write_bytes(ParquetWriter *w, const void *p, size_t n)
{
	if (n > 0 && fwrite(p, 1, n, w->out) != n)
	{
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	w->offset += n;
	return 0;
}

ParquetWriter *
parquet_open(FILE *out, const ParquetColumn *columns, int ncolumns,
			 ParquetCodec codec, size_t row_group_bytes, const char *created_by)
{
	ParquetWriter *w = checked_calloc(1, sizeof(ParquetWriter));

	w->out = out;
	w->codec = codec;
	w->row_group_bytes = row_group_bytes < PARQUET_MIN_ROW_GROUP_BYTES
		? PARQUET_MIN_ROW_GROUP_BYTES : row_group_bytes;
	w->created_by = strdup(created_by);
	w->ncolumns = ncolumns;
	w->columns = checked_calloc(ncolumns, sizeof(ColumnState));
	for (int i = 0; i < ncolumns; i++)
	{
		w->columns[i].column = columns[i];
		w->columns[i].column.name = strdup(columns[i].name);
		if (w->columns[i].column.name == NULL)
		{
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
	}
	if (w->created_by == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	if (write_bytes(w, "PAR1", 4) != 0)
	{
		parquet_abandon(w);
		return NULL;
	}
	return w;
}

/* the row's bit in the column's definition levels */
static void
mark(ColumnState *c, bool defined)
{
	int64_t		bit = c->row_values++;

	if (bit % 8 == 0)
		buf_byte(&c->defined, 0);
	if (defined)
		c->defined.data[bit / 8] |= (unsigned char) (1 << (bit % 8));
}

void
parquet_put_null(ParquetWriter *w, int column)
{
	ColumnState *c = &w->columns[column];

	if (!c->column.nullable)
	{
		fprintf(stderr, "parquet: NULL in required column %s\n", c->column.name);
		abort();
	}
	mark(c, false);
}

void
parquet_put_int32(ParquetWriter *w, int column, int32_t v)
{
	ColumnState *c = &w->columns[column];

	buf_le32(&c->values, (uint32_t) v);
	mark(c, true);
}

void
parquet_put_int64(ParquetWriter *w, int column, int64_t v)
{
	ColumnState *c = &w->columns[column];

	buf_le64(&c->values, (uint64_t) v);
	mark(c, true);
}

void
parquet_put_timestamp(ParquetWriter *w, int column, int64_t micros)
{
	parquet_put_int64(w, column, micros);
}

void
parquet_put_double(ParquetWriter *w, int column, double v)
{
	ColumnState *c = &w->columns[column];
	uint64_t	bits;

	memcpy(&bits, &v, sizeof(bits));
	buf_le64(&c->values, bits);
	mark(c, true);
}

void
parquet_put_bytes(ParquetWriter *w, int column, const void *p, size_t n)
{
	ColumnState *c = &w->columns[column];

	if (c->column.type == PARQUET_UUID)
	{
		if (n != 16)
		{
			fprintf(stderr, "parquet: a UUID of %zu bytes in column %s\n", n, c->column.name);
			abort();
		}
	}
	else
		buf_le32(&c->values, (uint32_t) n);
	buf_append(&c->values, p, n);
	mark(c, true);
}

/* gzip a page's body into w->packed; -1 on failure */
static int
gzip_page(ParquetWriter *w)
{
	z_stream	z = {0};
	int			rc;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
					 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	w->packed.len = 0;
	buf_reserve(&w->packed, deflateBound(&z, w->page.len) + 32);
	z.next_in = w->page.data;
	z.avail_in = (uInt) w->page.len;
	z.next_out = w->packed.data;
	z.avail_out = (uInt) w->packed.cap;
	rc = deflate(&z, Z_FINISH);
	w->packed.len = w->packed.cap - z.avail_out;
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

/* Write one column's chunk of the current row group: one data page. */
static int
write_chunk(ParquetWriter *w, ColumnState *c, ChunkMeta *meta)
{
	ThriftWriter t;
	const unsigned char *body;
	size_t		body_len;

	w->page.len = 0;
	if (c->column.nullable)
	{
		ByteBuffer	levels = {0};
		uint64_t	groups = (c->row_values + 7) / 8;
		uint64_t	header = groups << 1 | 1;	/* a bit-packed run */

		while (header >= 0x80)
		{
			buf_byte(&levels, (unsigned char) (header | 0x80));
			header >>= 7;
		}
		buf_byte(&levels, (unsigned char) header);
		buf_append(&levels, c->defined.data, c->defined.len);
		buf_le32(&w->page, (uint32_t) levels.len);
		buf_append(&w->page, levels.data, levels.len);
		buf_free(&levels);
	}
	buf_append(&w->page, c->values.data, c->values.len);
	body = w->page.data;
	body_len = w->page.len;
	if (w->codec == PARQUET_GZIP)
	{
		if (gzip_page(w) != 0)
		{
			errno = ENOMEM;
			return -1;
		}
		body = w->packed.data;
		body_len = w->packed.len;
	}
	if (w->page.len > INT32_MAX || body_len > INT32_MAX)
	{
		errno = EFBIG;
		return -1;
	}

	w->header.len = 0;
	tc_init(&t, &w->header);
	tc_struct_begin(&t);		/* PageHeader */
	tc_field_i32(&t, 1, PAGE_DATA);
	tc_field_i32(&t, 2, (int32_t) w->page.len);
	tc_field_i32(&t, 3, (int32_t) body_len);
	tc_field_struct(&t, 5);		/* DataPageHeader */
	tc_field_i32(&t, 1, (int32_t) c->row_values);
	tc_field_i32(&t, 2, ENC_PLAIN);
	tc_field_i32(&t, 3, ENC_RLE);
	tc_field_i32(&t, 4, ENC_RLE);
	tc_struct_end(&t);
	tc_struct_end(&t);

	meta->data_page_offset = w->offset;
	meta->uncompressed = (int64_t) (w->header.len + w->page.len);
	meta->compressed = (int64_t) (w->header.len + body_len);
	meta->values = c->row_values;
	if (write_bytes(w, w->header.data, w->header.len) != 0 ||
		write_bytes(w, body, body_len) != 0)
		return -1;
	return 0;
}

static int
flush_row_group(ParquetWriter *w)
{
	RowGroupMeta *g;

	if (w->group_rows == 0)
		return 0;
	if (w->ngroups == w->groups_cap)
	{
		w->groups_cap = w->groups_cap ? 2 * w->groups_cap : 8;
		w->groups = realloc(w->groups, w->groups_cap * sizeof(RowGroupMeta));
		if (w->groups == NULL)
		{
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
	}
	g = &w->groups[w->ngroups++];
	memset(g, 0, sizeof(*g));
	g->rows = w->group_rows;
	g->offset = w->offset;
	g->chunks = checked_calloc(w->ncolumns, sizeof(ChunkMeta));
	for (int i = 0; i < w->ncolumns; i++)
	{
		ColumnState *c = &w->columns[i];

		if (write_chunk(w, c, &g->chunks[i]) != 0)
			return -1;
		g->uncompressed += g->chunks[i].uncompressed;
		g->compressed += g->chunks[i].compressed;
		c->values.len = 0;
		c->defined.len = 0;
		c->row_values = 0;
	}
	w->group_rows = 0;
	return 0;
}

int
parquet_end_row(ParquetWriter *w)
{
	size_t		buffered = 0;

	w->group_rows++;
	w->rows++;
	for (int i = 0; i < w->ncolumns; i++)
		buffered += w->columns[i].values.len + w->columns[i].defined.len;
	if (buffered >= w->row_group_bytes)
		return flush_row_group(w);
	return 0;
}

int64_t
parquet_rows(const ParquetWriter *w)
{
	return w->rows;
}

/* One column's SchemaElement. */
static void
schema_element(ThriftWriter *t, const ParquetColumn *c)
{
	int			type = T_INT32;

	switch (c->type)
	{
		case PARQUET_INT32:
			type = T_INT32;
			break;
		case PARQUET_INT64:
		case PARQUET_TIMESTAMP:
			type = T_INT64;
			break;
		case PARQUET_DOUBLE:
			type = T_DOUBLE;
			break;
		case PARQUET_STRING:
			type = T_BYTE_ARRAY;
			break;
		case PARQUET_UUID:
			type = T_FIXED_LEN_BYTE_ARRAY;
			break;
	}
	tc_struct_begin(t);
	tc_field_i32(t, 1, type);
	if (c->type == PARQUET_UUID)
		tc_field_i32(t, 2, 16);
	tc_field_i32(t, 3, c->nullable ? REP_OPTIONAL : REP_REQUIRED);
	tc_field_string(t, 4, c->name);
	/* converted_type, for readers older than logical types */
	if (c->type == PARQUET_STRING)
		tc_field_i32(t, 6, CONV_UTF8);
	else if (c->type == PARQUET_TIMESTAMP)
		tc_field_i32(t, 6, CONV_TIMESTAMP_MICROS);
	else if (c->type == PARQUET_INT32)
		tc_field_i32(t, 6, CONV_INT_32);
	else if (c->type == PARQUET_INT64)
		tc_field_i32(t, 6, CONV_INT_64);
	if (c->type != PARQUET_DOUBLE)
	{
		tc_field_struct(t, 10); /* LogicalType, a union */
		switch (c->type)
		{
			case PARQUET_STRING:
				tc_field_struct(t, 1);	/* STRING */
				tc_struct_end(t);
				break;
			case PARQUET_TIMESTAMP:
				tc_field_struct(t, 8);	/* TIMESTAMP */
				tc_field_bool(t, 1, true);	/* isAdjustedToUTC */
				tc_field_struct(t, 2);	/* unit */
				tc_field_struct(t, 2);	/* MICROS */
				tc_struct_end(t);
				tc_struct_end(t);
				tc_struct_end(t);
				break;
			case PARQUET_UUID:
				tc_field_struct(t, 14); /* UUID */
				tc_struct_end(t);
				break;
			case PARQUET_INT32:
			case PARQUET_INT64:
				tc_field_struct(t, 10); /* INTEGER */
				tc_field_byte(t, 1, c->type == PARQUET_INT32 ? 32 : 64);
				tc_field_bool(t, 2, true);
				tc_struct_end(t);
				break;
			case PARQUET_DOUBLE:
				break;
		}
		tc_struct_end(t);
	}
	tc_struct_end(t);
}

static int
physical_type(const ParquetColumn *c)
{
	switch (c->type)
	{
		case PARQUET_INT32:
			return T_INT32;
		case PARQUET_INT64:
		case PARQUET_TIMESTAMP:
			return T_INT64;
		case PARQUET_DOUBLE:
			return T_DOUBLE;
		case PARQUET_STRING:
			return T_BYTE_ARRAY;
		case PARQUET_UUID:
			return T_FIXED_LEN_BYTE_ARRAY;
	}
	return T_INT32;
}

static void
write_footer(ParquetWriter *w, ByteBuffer *footer)
{
	ThriftWriter t;

	tc_init(&t, footer);
	tc_struct_begin(&t);		/* FileMetaData */
	tc_field_i32(&t, 1, 1);		/* version */
	tc_field_list(&t, 2, TC_STRUCT, w->ncolumns + 1);
	tc_struct_begin(&t);		/* the root of the schema */
	tc_field_string(&t, 4, "schema");
	tc_field_i32(&t, 5, w->ncolumns);
	tc_struct_end(&t);
	for (int i = 0; i < w->ncolumns; i++)
		schema_element(&t, &w->columns[i].column);
	tc_field_i64(&t, 3, w->rows);
	tc_field_list(&t, 4, TC_STRUCT, w->ngroups);
	for (int g = 0; g < w->ngroups; g++)
	{
		RowGroupMeta *group = &w->groups[g];

		tc_struct_begin(&t);	/* RowGroup */
		tc_field_list(&t, 1, TC_STRUCT, w->ncolumns);
		for (int i = 0; i < w->ncolumns; i++)
		{
			ChunkMeta  *m = &group->chunks[i];
			const ParquetColumn *c = &w->columns[i].column;

			tc_struct_begin(&t);	/* ColumnChunk */
			tc_field_i64(&t, 2, m->data_page_offset);
			tc_field_struct(&t, 3); /* ColumnMetaData */
			tc_field_i32(&t, 1, physical_type(c));
			tc_field_list(&t, 2, TC_I32, 2);
			tc_elem_i32(&t, ENC_PLAIN);
			tc_elem_i32(&t, ENC_RLE);
			tc_field_list(&t, 3, TC_BINARY, 1);
			tc_elem_string(&t, c->name);
			tc_field_i32(&t, 4, w->codec);
			tc_field_i64(&t, 5, m->values);
			tc_field_i64(&t, 6, m->uncompressed);
			tc_field_i64(&t, 7, m->compressed);
			tc_field_i64(&t, 9, m->data_page_offset);
			tc_struct_end(&t);
			tc_struct_end(&t);
		}
		tc_field_i64(&t, 2, group->uncompressed);
		tc_field_i64(&t, 3, group->rows);
		tc_field_i64(&t, 5, group->offset);
		tc_field_i64(&t, 6, group->compressed);
		tc_struct_end(&t);
	}
	tc_field_string(&t, 6, w->created_by);
	tc_struct_end(&t);
}

static void
free_writer(ParquetWriter *w)
{
	for (int i = 0; i < w->ncolumns; i++)
	{
		free((char *) w->columns[i].column.name);
		buf_free(&w->columns[i].values);
		buf_free(&w->columns[i].defined);
	}
	for (int g = 0; g < w->ngroups; g++)
		free(w->groups[g].chunks);
	free(w->groups);
	free(w->columns);
	free(w->created_by);
	buf_free(&w->page);
	buf_free(&w->packed);
	buf_free(&w->header);
	free(w);
}

int
parquet_finish(ParquetWriter *w)
{
	ByteBuffer	footer = {0};
	unsigned char len[4];
	int			rc = 0;

	if (flush_row_group(w) != 0)
		rc = -1;
	if (rc == 0)
	{
		write_footer(w, &footer);
		len[0] = footer.len;
		len[1] = footer.len >> 8;
		len[2] = footer.len >> 16;
		len[3] = footer.len >> 24;
		if (write_bytes(w, footer.data, footer.len) != 0 ||
			write_bytes(w, len, 4) != 0 ||
			write_bytes(w, "PAR1", 4) != 0)
			rc = -1;
	}
	buf_free(&footer);
	free_writer(w);
	return rc;
}

void
parquet_abandon(ParquetWriter *w)
{
	free_writer(w);
}
