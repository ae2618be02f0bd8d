/*
 * json_out.h
 *		Writing a JSON string, shared by the stedi client programs (their
 *		--json documents, stedi-export's manifest) and the Parquet self-test.
 */
#ifndef STEDI_JSON_OUT_H
#define STEDI_JSON_OUT_H

#include <stdio.h>

/*
 * Write s to out as a JSON string: quotes and backslashes escaped, control
 * characters as \uXXXX, every other byte as it is (s is UTF-8).  A NULL s
 * is written as null.
 */
extern void json_out_string(FILE *out, const char *s);

#endif							/* STEDI_JSON_OUT_H */
