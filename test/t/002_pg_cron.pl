# The pg_cron way, for those who already run pg_cron: a cron job that calls
# stedi.refresh(only_if_changed => true) keeps curated fresh, and does
# nothing when landing did not change.  Debian 12's pg_cron (1.4) schedules
# by the minute at the finest, so this test takes about two minutes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
plan skip_all => 'pg_cron is not installed (Debian: postgresql-15-cron)'
  unless -e "$sharedir/extension/pg_cron.control";

my $node = PostgreSQL::Test::Cluster->new('pg_cron');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'stedi'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE stedi');
$node->safe_psql('stedi', 'CREATE EXTENSION pg_cron');
$node->safe_psql('stedi', 'CREATE EXTENSION stedi');

# Without stedi in shared_preload_libraries, stedi's own scheduler says
# what to do instead.
my ($rc, $out, $err) = $node->psql('stedi', "SELECT stedi.schedule_refresh('1 second')");
isnt($rc, 0, 'stedi.schedule_refresh fails without shared_preload_libraries');
like($err, qr/HINT:.*shared_preload_libraries.*pg_cron/s, 'and the hint names both ways');

$node->safe_psql('stedi', q{
	SELECT cron.schedule('stedi-refresh', '* * * * *',
	                     'SELECT count(*) FROM stedi.refresh(only_if_changed => true)')});

# (a folder of its own: 001's batches in gen/ would be folders stedi-load
# names as passed over, not kind folders, and exit 1)
my $gen = "$PostgreSQL::Test::Utils::tmp_check/gen_pg_cron";
command_ok([ 'stedi-gen', '--scale', '0.02', '--seed', '1', $gen ], 'generate data');
command_ok([ 'stedi-load', '-q', '-d', $node->connstr('stedi'), $gen ], 'load it');

ok($node->poll_query_until('stedi', q{
	SELECT count(*) > 0 FROM curated.machine_learning}), 'pg_cron refreshes the zones');
my $ml = $node->safe_psql('stedi', 'SELECT count(*) FROM curated.machine_learning');
my $expected = $node->safe_psql('stedi', q{
	SELECT count(*) FROM trusted.step_trainer s
	  JOIN trusted.customer c ON c.serial_number = s.serial_number
	  JOIN trusted.accelerometer a ON a.user_email = c.email
	   AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time});
is($ml, $expected, "curated.machine_learning complete ($ml rows)");

# Nothing changed: cron keeps calling, stedi does nothing, logs nothing.
my $runs = $node->safe_psql('stedi', 'SELECT count(*) FROM stedi.refresh_run');
my $cron_runs = $node->safe_psql('stedi',
	"SELECT count(*) FROM cron.job_run_details WHERE status = 'succeeded'");
ok($node->poll_query_until('stedi', qq{
	SELECT count(*) >= $cron_runs + 1 FROM cron.job_run_details WHERE status = 'succeeded'}),
	'pg_cron keeps calling');
is($node->safe_psql('stedi', 'SELECT count(*) FROM stedi.refresh_run'), $runs,
	'only_if_changed: no run when landing did not change');

$node->stop('fast');
done_testing();
