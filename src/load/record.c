/*
 * record.c
 *		Turn one line of a landing file into one binary COPY tuple for
 *		landing.<kind>, or into a human-readable reason why it cannot be:
 *		the line's bytes are checked (json_text.c), its JSON scanned
 *		(json_scan.c), its fields converted (fields.c) and the tuple written
 *		(copy_binary.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "json_text.h"
#include "record.h"
#include "utf8.h"
#include "util.h"

/* how much of a duplicate key a reason shows */
#define KEY_SHOWN_BYTES		64

struct RecordParser
{
	FieldMap	map;			/* the kind's fields */
	JsonScan	scan;			/* the line's JSON */
	FieldValue	value[MAX_FIELDS];	/* its fields, converted */
	char		reason[REASON_BYTES];	/* why it is rejected */
};

/* Why the line is rejected, in p->reason. */
#define reject(p, ...)	reason_printf((p)->reason, __VA_ARGS__)

RecordParser *
record_parser_create(StediKind kind)
{
	RecordParser *parser = load_malloc(sizeof(RecordParser));

	memset(parser, 0, sizeof(RecordParser));
	field_map_init(&parser->map, kind);
	json_scan_init(&parser->scan, &parser->map);
	return parser;
}

void
record_parser_free(RecordParser *parser)
{
	if (parser == NULL)
		return;
	field_map_free(&parser->map);
	json_scan_free(&parser->scan);
	free(parser);
}

/* A line that is not JSON; on a last line without newline, say that. */
static const char *
reject_syntax(RecordParser *p, const Line *line, size_t offset,
			  const char *detail)
{
	if (!line->has_newline)
		return reject(p, "line cut off (no newline at end of file)");
	return reject(p, "malformed JSON at offset %zu: %s", offset, detail);
}

/* A line that is JSON so far, but ends in the middle of a value. */
static const char *
reject_cut_off(RecordParser *p, const Line *line)
{
	if (!line->has_newline)
		return reject(p, "line cut off (no newline at end of file)");
	return reject(p, "line cut off: the JSON ends before the record does");
}

/*
 * "duplicate key", showing the key as a JSON string, cut if long; for two
 * spellings of one field, naming the one met first too.
 */
static const char *
reject_duplicate(RecordParser *p)
{
	const unsigned char *key = (const unsigned char *) p->scan.dup_key;
	size_t		len = p->scan.dup_len;
	char		shown[KEY_SHOWN_BYTES + 16];
	size_t		out = 0;
	size_t		i = 0;

	/* a field's spellings are plain ASCII and short */
	if (p->scan.dup_first != NULL)
		return reject(p, "duplicate key \"%.*s\" (the same field as \"%s\")",
					  (int) len, p->scan.dup_key, p->scan.dup_first);

	while (i < len)
	{
		char		piece[8];
		size_t		piecelen;
		int			n = utf8_char_len(key + i, len - i);

		if (n == 0)				/* cannot be: the key was checked */
		{
			piece[0] = '?';
			piecelen = 1;
			n = 1;
		}
		else if (key[i] == '"' || key[i] == '\\')
		{
			piece[0] = '\\';
			piece[1] = (char) key[i];
			piecelen = 2;
		}
		else if (key[i] < 0x20)
			piecelen = (size_t) snprintf(piece, sizeof(piece), "\\u%04x", key[i]);
		else
		{
			memcpy(piece, key + i, (size_t) n);
			piecelen = (size_t) n;
		}
		if (out + piecelen > KEY_SHOWN_BYTES)
		{
			memcpy(shown + out, "...", 3);
			out += 3;
			break;
		}
		memcpy(shown + out, piece, piecelen);
		out += piecelen;
		i += (size_t) n;
	}
	shown[out] = '\0';
	return reject(p, "duplicate key \"%s\"", shown);
}

/*
 * The email and serial number the line that record_parse rejected last
 * carries, for stedi.forget_customer to find it by: valid until the next
 * call.  A line rejected before it was parsed (too long, a NUL byte, not
 * UTF-8) carries none; one rejected while parsing carries those met before
 * the fault.
 */
void
record_rejected_identity(const RecordParser *p, RejectedIdentity *id)
{
	const JsonScan *s = &p->scan;

	id->email = id->serial = NULL;
	if (!s->started)
		return;
	id->email = field_identity(&p->map, s->slot, s->seen,
							   p->map.kind == STEDI_ACCELEROMETER ?
							   "user_email" : "email", &id->email_len);
	id->serial = field_identity(&p->map, s->slot, s->seen, "serial_number",
								&id->serial_len);
}

/*
 * Parse one line.  On success, append its tuple to out, add its keys that
 * are not fields to unknown and return NULL.  Otherwise return why the
 * line is rejected; the string stays valid until the next call.
 *
 * The checks come in this order, and the first that fails gives the
 * reason: length, NUL bytes, UTF-8, JSON syntax (including a line cut off
 * or nested too deep), a JSON object, duplicate keys, then each field in
 * the order of the table's columns.
 */
const char *
record_parse(RecordParser *parser, const Line *line, int32_t file_id,
			 CopyBuf *out, UnknownFields *unknown)
{
	RecordParser *p = parser;
	JsonScan   *s = &p->scan;
	LineScan	scan;
	const char *text = line->data;
	size_t		feed;
	size_t		i;
	yajl_status status;
	const char *reason;

	s->started = false;
	if (line->too_long)
		return reject(p, "line longer than %d bytes", MAX_LINE_BYTES);

	scan_line(line->data, line->len, &scan);
	/* text columns cannot hold NUL */
	if (scan.nul != NOT_FOUND)
		return reject(p, "line contains a NUL byte");
	if (scan.bad_utf8 != NOT_FOUND)
	{
		if (!line->has_newline)
			return reject(p, "line cut off (no newline at end of file)");
		return reject(p, "line is not valid UTF-8 (at offset %zu)",
					  scan.bad_utf8);
	}
	if (scan.backslash)
		text = fix_surrogates(line->data, line->len, &s->fixed, &s->fixed_cap);
	json_scan_start(s, text, line->len, scan.backslash);

	/*
	 * YAJL takes a form feed or vertical tab for whitespace, JSON does not:
	 * parse only what comes before, which may hold an earlier error.
	 */
	feed = scan.ff_vt != NOT_FOUND ? scan.ff_vt : line->len;

	status = json_scan_feed(s, feed);
	if (status != yajl_status_ok)
	{
		if (status == yajl_status_client_canceled && s->stop == STOP_NESTING)
			reason = line->has_newline ?
				reject(p, "nesting deeper than %d levels", MAX_JSON_DEPTH) :
				reject(p, "line cut off (no newline at end of file)");
		else if (status == yajl_status_client_canceled &&
				 s->stop == STOP_TRAILING)
		{
			/* a second value: say where it starts */
			for (i = s->value_end; i < line->len; i++)
			{
				if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
					break;
			}
			reason = reject_syntax(p, line, i, "text after the JSON value");
		}
		else if (status == yajl_status_client_canceled &&
				 s->stop == STOP_INTERNAL)
			reason = reject(p, "internal error: no room for the line's strings");
		else
		{
			char		detail[128];
			size_t		offset = json_scan_error(s, detail, sizeof(detail));

			reason = reject_syntax(p, line, offset, detail);
		}
		json_scan_reset(s);
		return reason;
	}
	if (scan.ff_vt != NOT_FOUND)
	{
		json_scan_reset(s);
		return reject_syntax(p, line, scan.ff_vt, "invalid char in json text");
	}

	/* inside an array or object still: the line ends too soon */
	if (s->depth > 0)
	{
		json_scan_reset(s);
		return reject_cut_off(p, line);
	}

	/*
	 * No value complete yet, so the line ends in a top-level one: a number,
	 * which needs to see that it ends, or something cut off.
	 */
	if (s->values == 0)
	{
		status = json_scan_complete(s);
		if (status != yajl_status_ok || s->values == 0)
		{
			json_scan_reset(s);
			return reject_cut_off(p, line);
		}
	}

	/*
	 * After the value, whitespace only.  A second value that started and
	 * stopped the parse was dealt with above; this finds one that had not
	 * ended yet (and sits in YAJL's buffer, so the handle must go).
	 */
	for (i = s->value_end; i < line->len; i++)
	{
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
		{
			json_scan_reset(s);
			return reject_syntax(p, line, i, "text after the JSON value");
		}
	}

	if (s->top_kind != JSON_OBJECT)
		return reject(p, "not a JSON object (got %s)",
					  json_kind_words[s->top_kind]);
	if (s->dup_key != NULL)
		return reject_duplicate(p);

	/* check in field order, so the reason given is always the first */
	for (i = 0; i < (size_t) p->map.nfields; i++)
	{
		bool		seen = (s->seen & (UINT32_C(1) << i)) != 0;

		reason = field_convert(&p->map.fields[i],
							   p->map.spelling[i][seen ? s->spelled[i] : 0],
							   seen ? s->slot[i].kind : JSON_ABSENT,
							   &s->slot[i], &p->value[i], p->reason);
		if (reason != NULL)
			return reason;
	}

	copy_put_record(out, p->map.fields, p->value, p->map.nfields, file_id,
					line->number);
	if (s->extra > 0)
		unknown_fields_add_record(unknown, s->unknown_key, s->unknown_len,
								  s->nunknown, s->extra);
	return NULL;
}
