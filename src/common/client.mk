# src/common/client.mk
#
# What the Makefiles of the libpq client programs (src/load, src/export)
# share: built with PGXS as client programs (see contrib/oid2name for the
# model), with libpq and the headers of src/common, no server headers.
# Include it after setting PROGRAM and PG_LIBS.

# the program is every C file of its folder, and what src/common gives
# both: connecting and the shared options, SHA-256, JSON strings
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard *.c))) \
	../common/connect.o ../common/options.o ../common/digest.o \
	../common/json_out.o

PG_CPPFLAGS = -I$(libpq_srcdir) -I../common

# LLVM bitcode is for JIT-inlining server code; a client program has no use
# for it (and building it would need clang).
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on every header of the program and of src/common
$(OBJS): $(wildcard *.h) $(wildcard ../common/*.h)

# PGXS links a PROGRAM with the server's own LIBS as well (-lpgcommon,
# -lpgport and what they need: selinux, zstd, lz4, pam, gssapi, ...).  The
# client programs use none of them, and their -dev packages need not be
# installed; they link with PG_LIBS alone.
LIBS :=
