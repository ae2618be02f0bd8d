/*
 * thrift_compact.c
 *		Apache Thrift's compact protocol, written (see thrift_compact.h).
 *
 * Integers are ZigZag-encoded varints; a field's header holds the delta
 * from the previous field id in its high nibble when that fits (1 to 15),
 * else the id follows as a ZigZag varint; a bool's value is its type code;
 * a struct ends with a STOP byte (0).
 */
#include "thrift_compact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_reserve(ByteBuffer *b, size_t n)
{
	if (b->len + n > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;

		while (cap < b->len + n)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (b->data == NULL)
		{
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
		b->cap = cap;
	}
}

void
buf_append(ByteBuffer *b, const void *bytes, size_t n)
{
	buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, bytes, n);
	b->len += n;
}

void
buf_byte(ByteBuffer *b, unsigned char c)
{
	buf_append(b, &c, 1);
}

void
buf_le32(ByteBuffer *b, uint32_t v)
{
	unsigned char le[4] = {v, v >> 8, v >> 16, v >> 24};

	buf_append(b, le, 4);
}

void
buf_le64(ByteBuffer *b, uint64_t v)
{
	buf_le32(b, (uint32_t) v);
	buf_le32(b, (uint32_t) (v >> 32));
}

void
buf_free(ByteBuffer *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static void
varint(ByteBuffer *b, uint64_t v)
{
	while (v >= 0x80)
	{
		buf_byte(b, (unsigned char) (v | 0x80));
		v >>= 7;
	}
	buf_byte(b, (unsigned char) v);
}

static uint64_t
zigzag(int64_t v)
{
	return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

void
tc_init(ThriftWriter *w, ByteBuffer *out)
{
	w->out = out;
	w->depth = 0;
}

void
tc_struct_begin(ThriftWriter *w)
{
	if (w->depth >= TC_MAX_DEPTH)
	{
		fprintf(stderr, "thrift structs nested too deep\n");
		exit(2);
	}
	w->last_field[w->depth++] = 0;
}

void
tc_struct_end(ThriftWriter *w)
{
	buf_byte(w->out, 0);		/* STOP */
	w->depth--;
}

static void
field_header(ThriftWriter *w, int16_t id, int type)
{
	int16_t    *last = &w->last_field[w->depth - 1];
	int			delta = id - *last;

	if (delta > 0 && delta <= 15)
		buf_byte(w->out, (unsigned char) (delta << 4 | type));
	else
	{
		buf_byte(w->out, (unsigned char) type);
		varint(w->out, zigzag(id));
	}
	*last = id;
}

void
tc_field_struct(ThriftWriter *w, int16_t id)
{
	field_header(w, id, TC_STRUCT);
	tc_struct_begin(w);
}

void
tc_field_i32(ThriftWriter *w, int16_t id, int32_t v)
{
	field_header(w, id, TC_I32);
	varint(w->out, zigzag(v));
}

void
tc_field_i64(ThriftWriter *w, int16_t id, int64_t v)
{
	field_header(w, id, TC_I64);
	varint(w->out, zigzag(v));
}

void
tc_field_byte(ThriftWriter *w, int16_t id, int8_t v)
{
	field_header(w, id, TC_BYTE);
	buf_byte(w->out, (unsigned char) v);
}

void
tc_field_bool(ThriftWriter *w, int16_t id, bool v)
{
	field_header(w, id, v ? TC_BOOLEAN_TRUE : TC_BOOLEAN_FALSE);
}

void
tc_field_binary(ThriftWriter *w, int16_t id, const void *data, size_t n)
{
	field_header(w, id, TC_BINARY);
	varint(w->out, n);
	buf_append(w->out, data, n);
}

void
tc_field_string(ThriftWriter *w, int16_t id, const char *s)
{
	tc_field_binary(w, id, s, strlen(s));
}

void
tc_field_list(ThriftWriter *w, int16_t id, int elem_type, size_t n)
{
	field_header(w, id, TC_LIST);
	if (n < 15)
		buf_byte(w->out, (unsigned char) (n << 4 | elem_type));
	else
	{
		buf_byte(w->out, (unsigned char) (0xF0 | elem_type));
		varint(w->out, n);
	}
}

void
tc_elem_i32(ThriftWriter *w, int32_t v)
{
	varint(w->out, zigzag(v));
}

void
tc_elem_string(ThriftWriter *w, const char *s)
{
	size_t		n = strlen(s);

	varint(w->out, n);
	buf_append(w->out, s, n);
}
