# The scheduler played against by a hostile database owner: traps planted
# in the search_path and in schema public, settings that break sessions, a
# schedule changed during a run, an absurd interval, and ANALYZE holding the
# lock the refresh used to take.  Each attack fails, and the scheduled
# refresh still keeps the zones fresh in the trapped database.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use StediTest;
use Test::More;

my $t = StediTest->new('attacks', gen => 'gen_attacks', batches => 4,
	first_seed => 101, conf => "max_prepared_transactions = 2\n");
my $node = $t->node;
my $counts = $StediTest::zone_counts;

# ---------------------------------------------------------------------------
# 1. A database owner who is not superuser plants traps for the worker.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	CREATE DATABASE trapdb OWNER mallory;
});
$node->safe_psql('trapdb', 'CREATE EXTENSION stedi');
$node->safe_psql('trapdb', 'GRANT stedi_admin TO mallory');
$node->safe_psql('postgres', 'CREATE ROLE trap_loader LOGIN IN ROLE stedi_loader');

# loads into the trapped database as a loader, not as a superuser
sub load_trapdb
{
	my ($batch) = @_;
	$t->load('trapdb', $batch, '-U', 'trap_loader');
}

# Every trap records that it ran, and makes mallory superuser if it runs as one.
my $traps = q{
	CREATE SCHEMA traps;
	CREATE FUNCTION traps.sprung(what text) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		RAISE WARNING 'TRAP SPRUNG: % as %', what, current_user;
		IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
			EXECUTE 'ALTER ROLE mallory SUPERUSER';
		END IF;
	END $$;
	CREATE FUNCTION traps.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$
	BEGIN PERFORM traps.sprung('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
	CREATE FUNCTION traps.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
	BEGIN PERFORM traps.sprung('now'); RETURN pg_catalog.now(); END $$;
	CREATE FUNCTION traps.step(bigint) RETURNS bigint LANGUAGE plpgsql AS $$
	BEGIN PERFORM traps.sprung('count'); RETURN $1 + 1; END $$;
	CREATE AGGREGATE traps.count(*) (sfunc = traps.step, stype = bigint, initcond = '0');
	CREATE FUNCTION traps.tid_eq(tid, tid) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN PERFORM traps.sprung('tid ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
	CREATE OPERATOR traps.= (leftarg = tid, rightarg = tid, function = traps.tid_eq);
	CREATE FUNCTION traps.int8_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN PERFORM traps.sprung('bigint ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
	CREATE OPERATOR traps.= (leftarg = bigint, rightarg = bigint, function = traps.int8_eq);
	CREATE FUNCTION traps.ts_lt(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN PERFORM traps.sprung('timestamptz <'); RETURN $1 OPERATOR(pg_catalog.<) $2; END $$;
	CREATE OPERATOR traps.< (leftarg = timestamptz, rightarg = timestamptz, function = traps.ts_lt);
	CREATE FUNCTION traps.ts_mi(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql AS $$
	BEGIN PERFORM traps.sprung('timestamptz -'); RETURN $1 OPERATOR(pg_catalog.-) $2; END $$;
	CREATE OPERATOR traps.- (leftarg = timestamptz, rightarg = interval, function = traps.ts_mi);
	-- the operator 0.2.0's worker called through schema public
	CREATE FUNCTION public.oid_eq(oid, regprocedure) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN PERFORM traps.sprung('public.='); RETURN $1 OPERATOR(pg_catalog.=) $2::oid; END $$;
	CREATE OPERATOR public.= (leftarg = oid, rightarg = regprocedure, function = public.oid_eq);
	GRANT USAGE ON SCHEMA traps TO PUBLIC;
	ALTER DATABASE trapdb SET search_path = traps, public, pg_catalog;
	-- and every session there, the worker's included, starts as mallory
	ALTER DATABASE trapdb SET role = 'mallory';
};
$node->safe_psql('trapdb', $traps, extra_params => [ '-U', 'mallory' ]);
is($node->safe_psql('trapdb', 'SHOW search_path', extra_params => [ '-U', 'mallory' ]),
	'traps, public, pg_catalog', 'the traps are first in the database\'s search_path');
# the control: a trap that runs is seen in the server log
$node->safe_psql('trapdb', "SELECT traps.sprung('control')", extra_params => [ '-U', 'mallory' ]);
like(slurp_file($node->logfile), qr/WARNING:  TRAP SPRUNG: control as mallory/,
	'a trap that runs leaves its mark in the server log');

$node->safe_psql('trapdb', "SELECT stedi.schedule_refresh('1 second')",
	extra_params => [ '-U', 'mallory' ]);
is($node->safe_psql('trapdb', 'SELECT run_as FROM stedi.refresh_job'), 'mallory',
	'the schedule runs as mallory, who made it');
load_trapdb(1);
my $expected = $t->expected_after(1);
ok($node->poll_query_until('trapdb', $counts, $expected),
	"the trapped database is refreshed on schedule ($expected)");
load_trapdb(2);
$expected = $t->expected_after(1, 2);
ok($node->poll_query_until('trapdb', $counts, $expected),
	"and keeps being refreshed ($expected)");
sleep 2;
is($node->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'"),
	'f', 'mallory did not become superuser');
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING:  TRAP SPRUNG: (?!control)/, 'no trap ran: the worker resolves nothing through the database\'s search_path');
is($node->safe_psql('trapdb', q{
	SELECT pg_catalog.count(*) FROM stedi.refresh_run WHERE trigger = 'scheduled' AND status <> 'succeeded'}),
	'0', 'every scheduled run in the trapped database succeeded');

# The refresh runs as mallory: taking away her right to refresh stops it.
$node->safe_psql('postgres', 'REVOKE stedi_admin FROM mallory');
load_trapdb(3);
# (sessions in trapdb start as mallory, who may no longer read the history)
my $seen = 0;
for (1 .. 180)
{
	$seen = $node->safe_psql('trapdb', q{
		SET role = none;
		SELECT pg_catalog.count(*) > 0 FROM stedi.refresh_run
		 WHERE status = 'failed' AND message LIKE '%"mallory" may not execute stedi.refresh()%'}) eq 't';
	last if $seen;
	sleep 1;
}
ok($seen, 'a role that lost the right to refresh: the run fails, and is not done as anyone else');
$node->safe_psql('postgres', 'GRANT stedi_admin TO mallory');
$expected = $t->expected_after(1, 2, 3);
ok($node->poll_query_until('trapdb', $counts, $expected),
	"given back the right, the schedule catches up ($expected)");
$node->safe_psql('trapdb', 'SELECT stedi.unschedule_refresh()');

# An admin cannot make the schedule run as a role she is not, nor lock the
# schedule table to hold the workers up.
my ($rc, $out, $err) = $node->psql('trapdb',
	"SELECT stedi.schedule_refresh('1 minute', 'postgres')",
	extra_params => [ '-U', 'mallory' ]);
like($err, qr/a refresh schedule cannot run as role "postgres"/,
	'an admin cannot schedule a refresh as another role');
($rc, $out, $err) = $node->psql('trapdb',
	"UPDATE stedi.refresh_job SET run_as = 'postgres'",
	extra_params => [ '-U', 'mallory' ]);
like($err, qr/permission denied for table refresh_job/, 'nor write the schedule table directly');
($rc, $out, $err) = $node->psql('trapdb',
	"BEGIN; LOCK TABLE stedi.refresh_job IN ACCESS EXCLUSIVE MODE",
	extra_params => [ '-U', 'mallory' ]);
like($err, qr/permission denied for table refresh_job/, 'nor lock it');

# ---------------------------------------------------------------------------
# 2. Workers that cannot even start are retried with a backoff, not in a loop.
# ---------------------------------------------------------------------------
$t->create_scheduled_database('closed');
ok($node->poll_query_until('closed',
	'SELECT last_checked_at IS NOT NULL FROM stedi.refresh_job'),
	'a worker has run for the schedule');
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER DATABASE closed ALLOW_CONNECTIONS false');
sleep 12;
my $closed_log = substr(slurp_file($node->logfile), $log_offset);
my $deaths = () = $closed_log =~ /background worker "stedi refresh" \(PID \d+\) exited with exit code 1/g;
like($closed_log, qr/stedi scheduler: the refresh worker of database \d+ exited without finishing; next try in 10 s/,
	'a worker that cannot connect is noticed');
cmp_ok($deaths, '<=', 3, "and retried with a growing wait: $deaths tries in 12 s, not hundreds");
like($closed_log, qr/next try in 20 s/, 'the wait doubles');
$node->safe_psql('postgres', 'ALTER DATABASE closed ALLOW_CONNECTIONS true');

# A database that defaults to read-only transactions: the worker sets its own.
$t->create_database('readonly');
$node->safe_psql('postgres', 'ALTER DATABASE readonly SET default_transaction_read_only = on');
$node->safe_psql('readonly', "SET default_transaction_read_only = off; SELECT stedi.schedule_refresh('1 second')");
{
	local $ENV{PGOPTIONS} = '-c default_transaction_read_only=off';
	$t->load('readonly', 1);
}
$expected = $t->expected_after(1);
ok($node->poll_query_until('readonly', $counts, $expected),
	"a database that defaults to read-only is still refreshed on schedule ($expected)");

# ---------------------------------------------------------------------------
# 3. A schedule changed while a run is in progress is not lost.
# ---------------------------------------------------------------------------
$t->create_database('changing');
$t->load('changing', 1);
my $blocker = $node->background_psql('changing');
$blocker->query_safe('BEGIN');
$blocker->query_safe('LOCK TABLE curated.machine_learning IN ACCESS EXCLUSIVE MODE');
$node->safe_psql('changing', "SELECT stedi.schedule_refresh('1 hour')");
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	 WHERE backend_type = 'stedi refresh' AND datname = 'changing' AND wait_event_type = 'Lock'}),
	'a scheduled run is under way (held up by a lock)');
$node->safe_psql('changing', "SELECT stedi.schedule_refresh('1 second')");
$blocker->query_safe('COMMIT');
$blocker->quit;
ok($node->poll_query_until('changing',
	"SELECT count(*) = 1 FROM stedi.refresh_run WHERE status = 'succeeded'"),
	'the run under way finishes');
is($node->safe_psql('changing', q{
	SELECT every = interval '1 second' AND next_run_at < now() + interval '1 minute'
	  FROM stedi.refresh_job}), 't',
	'the change made during the run stands: every second, not an hour from now');
$t->load('changing', 2);
$expected = $t->expected_after(1, 2);
ok($node->poll_query_until('changing', $counts, $expected),
	"the next load is refreshed within seconds ($expected)");

# ---------------------------------------------------------------------------
# 4. Absurd intervals are refused, not wrapped around to every second.
# ---------------------------------------------------------------------------
($rc, $out, $err) = $node->psql('changing', "SELECT stedi.schedule_refresh('300000 years')");
like($err, qr/refresh interval must be between 1 second and 1 year, not 300000 years/,
	'schedule_refresh refuses 300000 years');
($rc, $out, $err) = $node->psql('changing', "UPDATE stedi.refresh_job SET every = '300000 years'");
like($err, qr/violates check constraint "refresh_job_every_check"/,
	'so does the job table');
is($node->safe_psql('changing', 'SELECT every FROM stedi.refresh_job'), '00:00:01',
	'the schedule is unchanged');

# ---------------------------------------------------------------------------
# 5. ANALYZE (or anyone) holding the lock ANALYZE takes on the run history
#    does not make scheduled runs look like overlapping refreshes.
# ---------------------------------------------------------------------------
my $analyze = $node->background_psql('changing');
$analyze->query_safe('BEGIN');
$analyze->query_safe('LOCK TABLE stedi.refresh_run IN SHARE UPDATE EXCLUSIVE MODE');
$t->load('changing', 3);
$expected = $t->expected_after(1, 2, 3);
ok($node->poll_query_until('changing', $counts, $expected),
	"with ANALYZE's lock held on the run history, the scheduled refresh runs ($expected)");
is($node->safe_psql('changing', "SELECT count(*) FROM stedi.refresh_run WHERE status = 'skipped'"),
	'0', 'and no run was skipped');
$analyze->query_safe('COMMIT');
$analyze->quit;

# A refresh in progress holds stedi's own advisory lock, which a scheduled
# run finds and skips.
my $manual = $node->background_psql('changing');
$manual->query_safe('BEGIN');
$manual->query_safe('SELECT count(*) FROM stedi.refresh()');
is($node->safe_psql('changing', q{
	SELECT string_agg(format('%s %s %s %s', locktype, classid::regclass,
	                         objid = (SELECT oid FROM pg_extension WHERE extname = 'stedi'), objsubid), ',')
	  FROM pg_locks WHERE locktype = 'object' AND classid = 'pg_extension'::regclass
	   AND database = (SELECT oid FROM pg_database WHERE datname = 'changing')}),
	'object pg_extension t 1', 'the refresh lock is a lock on the extension object, sub-id 1');
($rc, $out, $err) = $node->psql('changing',
	"SELECT pg_advisory_lock(1398031684, 1), pg_advisory_lock(1)");
is($rc, 0, 'the advisory locks 0.2.0 might have used are free to take');
$t->load('changing', 4);
ok($node->poll_query_until('changing',
	"SELECT count(*) > 0 FROM stedi.refresh_run WHERE status = 'skipped'"),
	'a scheduled run beside a refresh in progress is skipped');
$manual->query_safe('COMMIT');
$manual->quit;

# A schedule change cannot hide in a prepared transaction, whose COMMIT
# PREPARED no hook of the changing session would see.
($rc, $out, $err) = $node->psql('changing',
	"BEGIN; SELECT stedi.schedule_refresh('2 seconds'); PREPARE TRANSACTION 'hidden'");
like($err, qr/cannot PREPARE a transaction that changed the refresh schedule/,
	'a schedule change in a prepared transaction is refused');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0',
	'and nothing was prepared');

$node->stop('fast');
$log = slurp_file($node->logfile);
unlike($log, qr/(PANIC|terminated by signal|was terminated)/, 'no crash in the server log');
unlike($log, qr/WARNING:  TRAP SPRUNG: (?!control)/, 'no trap ran, first to last');

done_testing();
