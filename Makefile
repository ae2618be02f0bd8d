# stedi: PGXS build of the backend module, plus the client programs in
# src/load and src/gen (PGXS builds one MODULE_big or one PROGRAM per
# Makefile, so each client has its own).

EXTENSION = stedi
MODULE_big = stedi
OBJS = src/stedi.o src/consent.o src/pseudonym.o src/same_millisecond.o src/pairing.o src/split.o \
       src/loading.o src/loading_file.o src/loading_row.o src/loading_by_hand.o \
       src/zone_fill.o src/drop_guard.o src/raw_line.o \
       src/refresh.o src/scheduler.o src/scheduler_launcher.o src/scheduler_worker.o \
       src/expectation.o
DATA = $(wildcard stedi--*.sql)
PGFILEDESC = "stedi - STEDI Human Balance lakehouse"

REGRESS = install consent same_millisecond fill_zone zones refresh schedule ingest privacy identity unload roles security comments digest duplicates ambiguous pairing split expectations drop
ISOLATION = refresh_concurrency drop_race erasure_refresh hand_writes consent_policy_race

CLIENTS = src/load src/gen src/export

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

all: clients
install: install-clients
clean: clean-clients

.PHONY: clients install-clients clean-clients
clients:
	for d in $(CLIENTS); do $(MAKE) -C $$d PG_CONFIG=$(PG_CONFIG) || exit 1; done
install-clients:
	for d in $(CLIENTS); do $(MAKE) -C $$d PG_CONFIG=$(PG_CONFIG) install || exit 1; done
clean-clients:
	for d in $(CLIENTS); do $(MAKE) -C $$d PG_CONFIG=$(PG_CONFIG) clean || exit 1; done
