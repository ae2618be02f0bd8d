/*
 * stedi_common.h
 *		What the stedi client programs (stedi-load, stedi-gen) agree on:
 *		the three landing datasets, the folder layout they arrive in, and
 *		the JSON field names of each record.
 *
 * The backend module does not include this file; the SQL install script is
 * the backend's source of truth for the same names.
 */
#ifndef STEDI_COMMON_H
#define STEDI_COMMON_H

#include <stdint.h>

typedef enum StediKind
{
	STEDI_CUSTOMER = 0,
	STEDI_ACCELEROMETER,
	STEDI_STEP_TRAINER,
	STEDI_NKINDS
} StediKind;

/* Kind names double as folder names (KIND/landing/NAME.json) and table names. */
static const char *const stedi_kind_name[STEDI_NKINDS] = {
	"customer", "accelerometer", "step_trainer"
};

#define STEDI_LANDING_DIR "landing"
#define STEDI_FILE_SUFFIX ".json"

/* JSON field names, exactly as the STEDI apps and devices write them. */
#define F_CUSTOMER_NAME		"customerName"
#define F_EMAIL				"email"
#define F_PHONE				"phone"
#define F_BIRTH_DAY			"birthDay"
#define F_SERIAL_NUMBER		"serialNumber"
#define F_REGISTRATION_DATE	"registrationDate"
#define F_LAST_UPDATE_DATE	"lastUpdateDate"
#define F_SHARE_RESEARCH	"shareWithResearchAsOfDate"
#define F_SHARE_PUBLIC		"shareWithPublicAsOfDate"
#define F_SHARE_FRIENDS		"shareWithFriendsAsOfDate"

#define F_USER				"user"
#define F_TIMESTAMP			"timestamp"
#define F_X					"x"
#define F_Y					"y"
#define F_Z					"z"

#define F_SENSOR_READING_TIME	"sensorReadingTime"
#define F_DISTANCE			"distanceFromObject"

/*
 * Times are epoch milliseconds in the files; PostgreSQL keeps timestamptz
 * as microseconds since 2000-01-01 UTC.
 */
#define STEDI_PG_EPOCH_MS	INT64_C(946684800000)

#endif							/* STEDI_COMMON_H */
