/*-------------------------------------------------------------------------
 *
 * loading.h
 *		What the files of the loading protocol share: the record of a file
 *		begun in this transaction, and the functions each file lends the
 *		others.
 *
 * loading.c keeps the transaction's record and says what the protocol
 * enforces; loading_file.c begins and finishes a file; loading_row.c is
 * the CHECK constraint of the landing tables; loading_by_hand.c lets the
 * roles that may change landing by hand write rows of no open file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STEDI_LOADING_H
#define STEDI_LOADING_H

#include "datatype/timestamp.h"
#include "utils/hsearch.h"

/*
 * What a file's counters were when a subtransaction first wrote a row of
 * it: a subtransaction that rolls back puts them back, so that the counts
 * finish_file compares are those of the rows that are still there.
 */
typedef struct SavedCounts
{
	SubTransactionId subid;
	int64		last_line;
	int64		last_rejected_line;
	int64		rows;
	int64		rejected;
	struct SavedCounts *outer;
} SavedCounts;

typedef struct OpenFile
{
	int32		file_id;
	char		kind[16];		/* customer, accelerometer or step_trainer */
	SubTransactionId opened_in; /* the subtransaction that began it */
	bool		finished;
	SubTransactionId finished_in;	/* and the one that finished it */
	int64		last_line;		/* last line written to landing.<kind> */
	int64		last_rejected_line; /* and to landing.rejected */
	int64		rows;
	int64		rejected;
	HTAB	   *owners;			/* OwnerSpan: whose readings the file holds,
								 * and when; NULL past MAX_KEPT_OWNERS */
	struct OwnerSpan *last_owner;	/* most rows repeat the previous owner */
	SavedCounts *saved;			/* innermost first */
} OpenFile;

/* loading.c */
extern void stedi_ensure_loading_callbacks(void);
extern void stedi_require_extension_owner(const char *function);
extern OpenFile *stedi_find_file(int32 file_id);
extern void stedi_add_open_file(OpenFile *f);

/* loading_file.c */
extern void stedi_add_owner(OpenFile *f, text *owner, TimestampTz at);

/* loading_by_hand.c */
extern void stedi_check_by_hand(const char *table, int32 file_id);
extern void stedi_note_hand_file(text *kind, int32 file_id);
extern bool stedi_wrote_rows_by_hand(void);
extern void stedi_forget_rows_by_hand(void);
extern void stedi_forget_hand_files(SubTransactionId subid);
extern void stedi_hand_files_to_parent(SubTransactionId subid,
									   SubTransactionId parent);

#endif							/* STEDI_LOADING_H */
