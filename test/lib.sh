# TAP helpers for the shell tests in test/t_*.sh.  Source it; the caller's
# environment points libpq at the test cluster (PGHOST, PGPORT, ...).

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PATH="$("$PG_CONFIG" --bindir):$PATH"
export PATH
starter=${STEDI_STARTER:-$top/../shared/stedi-starter}
tap_n=0

ok()
{
    local cond=$1 desc=$2
    tap_n=$((tap_n + 1))
    if [ "$cond" -eq 0 ]; then
        echo "ok $tap_n - $desc"
    else
        echo "not ok $tap_n - $desc"
    fi
}

# is GOT EXPECTED DESCRIPTION
is()
{
    tap_n=$((tap_n + 1))
    if [ "$1" == "$2" ]; then
        echo "ok $tap_n - $3"
    else
        echo "not ok $tap_n - $3"
        echo "#   got:      '$1'"
        echo "#   expected: '$2'"
    fi
}

skip()
{
    tap_n=$((tap_n + 1))
    echo "ok $tap_n # skip $1"
}

# q DB SQL: one value, unaligned, no headers
q()
{
    psql -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"
}

# fresh_db NAME: a new database with the extension installed
fresh_db()
{
    dropdb --if-exists "$1" >/dev/null 2>&1
    createdb "$1" && q "$1" "CREATE EXTENSION stedi" >/dev/null
}
