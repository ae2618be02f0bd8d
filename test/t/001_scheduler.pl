# The refresh scheduler: a real server with shared_preload_libraries =
# 'stedi', data loaded with stedi-load, curated counts that follow on their
# own, across a restart, through a failure, beside a manual refresh, in a
# database created later, and out of the way of DROP EXTENSION, DROP
# DATABASE and shutdown.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use StediTest;
use Test::More;

my $t = StediTest->new('scheduler', gen => 'gen', batches => 5);
my $node = $t->node;
my $counts = $StediTest::zone_counts;

sub scheduled_runs
{
	my ($db, $status) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) FROM stedi.refresh_run WHERE trigger = 'scheduled' AND status = '$status'");
}

# Waits for $n runs in database stedi that ended with $status, then checks
# what the latest of them says.
sub runs_ended
{
	my ($status, $n, $recorded, $message, $says) = @_;
	ok($node->poll_query_until('stedi',
		"SELECT count(*) >= $n FROM stedi.refresh_run WHERE status = '$status'"),
		$recorded);
	like($node->safe_psql('stedi',
		"SELECT message FROM stedi.refresh_run WHERE status = '$status' ORDER BY run_id DESC LIMIT 1"),
		$message, $says);
}

my $launcher_pid = $t->launcher_pid;
like($launcher_pid, qr/^\d+$/, 'the scheduler runs, connected to no database');

$t->create_database('stedi');
is($node->safe_psql('stedi', "SELECT every FROM stedi.schedule_refresh('1 second')"),
	'00:00:01', 'schedule a refresh every second');

# 1. Loaded data reaches curated on its own.
$t->load('stedi', 1);
my $expected = $t->expected_after(1);
ok($node->poll_query_until('stedi', $counts, $expected),
	"curated counts follow the load ($expected)");
cmp_ok(scheduled_runs('stedi', 'succeeded'), '>=', 1, 'scheduled runs are recorded as succeeded');
is($node->safe_psql('stedi', q{
	SELECT string_agg(rows::text, ',' ORDER BY step) FROM stedi.refresh_log
	 WHERE run_id = (SELECT max(run_id) FROM stedi.refresh_run WHERE status = 'succeeded')}),
	$expected, 'each run records the rows of every view');

# 2. Nothing new: the job keeps checking but no run happens.
my $runs = $node->safe_psql('stedi', 'SELECT count(*) FROM stedi.refresh_run');
my $checked = $node->safe_psql('stedi', 'SELECT last_checked_at FROM stedi.refresh_job');
ok($node->poll_query_until('stedi',
	"SELECT last_checked_at > '$checked' FROM stedi.refresh_job"), 'the job checks again');
sleep 2;
is($node->safe_psql('stedi', 'SELECT count(*) FROM stedi.refresh_run'), $runs,
	'no landing change: no run');

# 3. The schedule survives a restart.
$node->restart;
$t->load('stedi', 2);
$expected = $t->expected_after(1, 2);
ok($node->poll_query_until('stedi', $counts, $expected),
	"after a restart, counts follow the next load ($expected)");

# 4. A failing refresh is recorded, retried with backoff, and recovers.
$launcher_pid = $t->launcher_pid;
$node->safe_psql('stedi', 'ALTER TABLE curated.machine_learning RENAME TO ml_away');
$t->load('stedi', 3);
runs_ended('failed', 2, 'failed runs are recorded',
	qr/machine_learning/, 'with the error text');
ok($node->safe_psql('stedi', q{
	SELECT consecutive_failures >= 2
	   AND next_run_at - last_checked_at > interval '2 seconds'
	  FROM stedi.refresh_job}), 'and retried with a growing wait');
is($node->safe_psql('stedi', q{
	SELECT last_run_status FROM stedi.zone_status WHERE step = 1}), 'failed',
	'zone_status shows the failure');
is($t->launcher_pid, $launcher_pid, 'the scheduler keeps running');
$node->safe_psql('stedi', 'ALTER TABLE curated.ml_away RENAME TO machine_learning');
$expected = $t->expected_after(1, 2, 3);
ok($node->poll_query_until('stedi', $counts, $expected),
	"once fixed, the next retry catches up ($expected)");
is($node->safe_psql('stedi', 'SELECT consecutive_failures FROM stedi.refresh_job'), '0',
	'failures reset after a success');

# 5. A manual refresh in progress: the scheduled run is skipped, not queued.
my $manual = $node->background_psql('stedi');
$manual->query_safe('BEGIN');
$manual->query_safe('SELECT count(*) FROM stedi.refresh()');
$t->load('stedi', 4);
runs_ended('skipped', 1, 'a scheduled run beside a manual refresh is skipped',
	qr/another refresh/, 'and says why');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stedi refresh' AND wait_event_type = 'Lock'"),
	'0', 'no scheduled refresh waits in line');
$manual->query_safe('COMMIT');
$manual->quit;
$expected = $t->expected_after(1, 2, 3, 4);
ok($node->poll_query_until('stedi', $counts, $expected),
	"after the manual refresh, the schedule catches up ($expected)");
is($node->safe_psql('stedi', q{
	SELECT count(DISTINCT trigger) FROM stedi.refresh_run WHERE status = 'succeeded'}),
	'2', 'manual and scheduled runs share one history');

# 6. A database that installs the extension later is picked up.
$t->create_scheduled_database('later');
$t->load('later', 1);
$expected = $t->expected_after(1);
ok($node->poll_query_until('later', $counts, $expected),
	"a database scheduled later is refreshed too ($expected)");

# 7. DROP EXTENSION and DROP DATABASE are not held up by the scheduler.
$node->safe_psql('later', 'DROP EXTENSION stedi CASCADE');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = 'later'}),
	'after DROP EXTENSION nothing of stedi stays connected');
$node->safe_psql('postgres', 'DROP DATABASE later');
pass('DROP DATABASE of a database that had a schedule');

$t->create_scheduled_database('dropme');
ok($node->poll_query_until('dropme',
	"SELECT count(*) > 0 FROM stedi.refresh_run WHERE trigger = 'scheduled'"),
	'a schedule runs in dropme');
$node->safe_psql('postgres', 'DROP DATABASE dropme');
pass('DROP DATABASE of a database with a live schedule');

# 8. A scheduled refresh runs on behalf of the role that scheduled it: a
#    stedi_admin may, a role that may not call stedi.refresh() may not.
$node->safe_psql('stedi', 'CREATE ROLE ops IN ROLE stedi_admin');
$node->safe_psql('stedi', "SET ROLE ops; SELECT stedi.schedule_refresh('1 second')");
is($node->safe_psql('stedi', 'SELECT run_as FROM stedi.refresh_job'), 'ops',
	'the job runs as the role that scheduled it');
$node->safe_psql('stedi', 'CREATE ROLE nobody');
$node->safe_psql('stedi', q{
	UPDATE stedi.refresh_job SET run_as = 'nobody', next_run_at = now();
	INSERT INTO stedi.landing_change (relation) VALUES ('landing.customer')});
ok($node->poll_query_until('stedi', q{
	SELECT count(*) > 0 FROM stedi.refresh_run
	 WHERE status = 'failed' AND message LIKE '%"nobody" may not execute stedi.refresh()%'}),
	'a role that may not refresh: the run fails and says why');
$node->safe_psql('stedi', "UPDATE stedi.refresh_job SET run_as = 'ops', next_run_at = now()");
ok($node->poll_query_until('stedi', q{
	SELECT status = 'succeeded' FROM stedi.refresh_run ORDER BY run_id DESC LIMIT 1}),
	'a stedi_admin member: the run succeeds');

# 9. unschedule stops the runs.
is($node->safe_psql('stedi', 'SELECT stedi.unschedule_refresh()'), 't', 'unschedule');
$t->load('stedi', 5);
sleep 3;
is($node->safe_psql('stedi', 'SELECT landing_changed_since FROM stedi.zone_status WHERE step = 1'),
	't', 'unscheduled: the new load waits for a manual refresh');

# 10. A clean shutdown.
$node->stop('fast');
my $log = slurp_file($node->logfile);
unlike($log, qr/(PANIC|terminated by signal|was terminated)/, 'no crash in the server log');
like($log, qr/stedi scheduler started/, 'the scheduler logged its start');

done_testing();
