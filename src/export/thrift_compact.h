/*
 * thrift_compact.h
 *		A writer of Apache Thrift's compact protocol, as much of it as
 *		Parquet's metadata needs: structs, i16/i32/i64, bool, binary
 *		(strings) and lists, written into a growable byte buffer.
 *
 * The protocol: https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
 */
#ifndef THRIFT_COMPACT_H
#define THRIFT_COMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the compact protocol's type codes */
#define TC_BOOLEAN_TRUE	1
#define TC_BOOLEAN_FALSE 2
#define TC_BYTE			3
#define TC_I16			4
#define TC_I32			5
#define TC_I64			6
#define TC_DOUBLE		7
#define TC_BINARY		8
#define TC_LIST			9
#define TC_STRUCT		12

/* how deep structs may nest (Parquet's metadata needs 5) */
#define TC_MAX_DEPTH	16

/* A growable byte buffer; allocation failure ends the program. */
typedef struct ByteBuffer
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
} ByteBuffer;

/* room for n more bytes */
extern void buf_reserve(ByteBuffer *b, size_t n);
extern void buf_append(ByteBuffer *b, const void *bytes, size_t n);
extern void buf_byte(ByteBuffer *b, unsigned char c);
extern void buf_le32(ByteBuffer *b, uint32_t v);
extern void buf_le64(ByteBuffer *b, uint64_t v);
extern void buf_free(ByteBuffer *b);

/* A struct being written: the last field id at each depth. */
typedef struct ThriftWriter
{
	ByteBuffer *out;
	int			depth;
	int16_t		last_field[TC_MAX_DEPTH];
} ThriftWriter;

extern void tc_init(ThriftWriter *w, ByteBuffer *out);
extern void tc_struct_begin(ThriftWriter *w);	/* a top-level or list element */
extern void tc_struct_end(ThriftWriter *w);
extern void tc_field_struct(ThriftWriter *w, int16_t id);	/* then fields, end */
extern void tc_field_i32(ThriftWriter *w, int16_t id, int32_t v);
extern void tc_field_i64(ThriftWriter *w, int16_t id, int64_t v);
extern void tc_field_byte(ThriftWriter *w, int16_t id, int8_t v);
extern void tc_field_bool(ThriftWriter *w, int16_t id, bool v);
extern void tc_field_binary(ThriftWriter *w, int16_t id, const void *data, size_t n);
extern void tc_field_string(ThriftWriter *w, int16_t id, const char *s);
/* a list field of n elements of a type; then n elements */
extern void tc_field_list(ThriftWriter *w, int16_t id, int elem_type, size_t n);
extern void tc_elem_i32(ThriftWriter *w, int32_t v);
extern void tc_elem_string(ThriftWriter *w, const char *s);

#endif							/* THRIFT_COMPACT_H */
