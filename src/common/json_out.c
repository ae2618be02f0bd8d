/*
 * json_out.c
 *		Writing a JSON string (see json_out.h).
 */
#include "json_out.h"

void
json_out_string(FILE *out, const char *s)
{
	const unsigned char *p;

	if (s == NULL)
	{
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (p = (const unsigned char *) s; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}
