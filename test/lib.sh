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

# digest_of DB TABLE...: "table rows md5-of-rows" for each, joined by " | "
digest_of()
{
    local db=$1 t sql=""
    shift
    for t in "$@"; do
        sql+="${sql:+ UNION ALL }SELECT '$t', count(*), md5(string_agg(zone_row::text, ',' ORDER BY zone_row::text)) FROM $t AS zone_row"
    done
    q "$db" "SELECT string_agg(format('%s %s %s', t, n, d), ' | ' ORDER BY t) FROM ($sql) AS f(t, n, d)"
}

# zones_differ DB [ZONE...]: "none" when each zone (all five by default)
# equals its definition as a multiset (EXCEPT ALL both ways); else how many
# rows differ, zone by zone.  (sql/helpers.sql has the same check for the
# pg_regress tests.)
zones_differ()
{
    local db=$1 z sql=""
    shift
    [ $# -gt 0 ] || set -- trusted.customer trusted.accelerometer curated.customer \
        trusted.step_trainer curated.machine_learning
    for z in "$@"; do
        sql+="${sql:+ UNION ALL }SELECT '$z', count(*) FROM ((TABLE $z EXCEPT ALL TABLE ${z}_definition)
              UNION ALL (TABLE ${z}_definition EXCEPT ALL TABLE $z)) AS d"
    done
    q "$db" "SELECT coalesce(string_agg(format('%s: %s rows', z, n), '; ' ORDER BY z), 'none')
               FROM ($sql) AS f(z, n) WHERE n > 0"
}

# login_roles PREFIX PASSWORD: login roles PREFIX_loader, PREFIX_analyst
# and PREFIX_admin (made again if they exist), members of stedi_loader,
# stedi_analyst and stedi_admin; drop_login_roles PREFIX drops them
login_roles()
{
    local who
    for who in loader analyst admin; do
        q postgres "DROP ROLE IF EXISTS $1_$who" >/dev/null 2>&1
        q postgres "CREATE ROLE $1_$who LOGIN PASSWORD '$2' IN ROLE stedi_$who"
    done
}
drop_login_roles()
{
    local who
    for who in loader analyst admin; do q postgres "DROP ROLE $1_$who"; done
}

# state DB: what pg_dump must keep of a stedi database (every marked table,
# and where each sequence stands)
state()
{
    digest_of "$1" landing.source_file landing.customer landing.accelerometer \
        landing.step_trainer landing.rejected stedi.ingest_log stedi.setting \
        stedi.refresh_job stedi.refresh_run stedi.refresh_log stedi.erasure_log \
        stedi.pseudonym_secret stedi.accelerometer_file_user \
        stedi.step_trainer_file_serial stedi.unload_log landing.unknown_field
    q "$1" "SELECT string_agg(seqrelid::regclass || ' ' || coalesce(pg_sequence_last_value(seqrelid), 0), ' | '
                                ORDER BY seqrelid::regclass::text)
              FROM pg_sequence JOIN pg_class ON pg_class.oid = seqrelid
             WHERE relnamespace IN ('landing'::regnamespace, 'stedi'::regnamespace)"
}

# zones DB: every zone's rows
zones()
{
    digest_of "$1" trusted.customer trusted.accelerometer curated.customer \
        trusted.step_trainer curated.machine_learning
}

# counts DB EXPR: one value
counts() { q "$1" "SELECT $2"; }

# copy_tree DEST: the files of this checkout that git knows of (tracked, or
# new and not ignored) copied into the folder DEST, so that no build output
# gets in; fails in a tree that is no git checkout.
copy_tree()
{
    local files
    files=$(mktemp)
    (cd "$top" && git ls-files -z -co --exclude-standard) >"$files" 2>/dev/null || { rm -f "$files"; return 1; }
    mkdir -p "$1"
    (cd "$top" && xargs -0 -a "$files" sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
         tar --null -T - -cf -) | tar -C "$1" -xf -
    rm -f "$files"
}
