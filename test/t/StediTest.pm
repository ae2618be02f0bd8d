# What the scheduler's TAP tests share: a server with stedi in
# shared_preload_libraries, batches made by stedi-gen and loaded by
# stedi-load, and the zone counts that the same batches reach in a
# database refreshed by hand.
#
# Used from a test in t/ with
#	use FindBin;
#	use lib $FindBin::RealBin;
#	use StediTest;
# (prove runs the tests from the folder above t/, and test/run copies t/
# whole, this file with it.)
package StediTest;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The rows of each zone, as one string, to compare with expected_after().
# (Schema-qualified: a test's own superuser sessions must not spring the
# traps that t/003 plants in the search_path either.)
our $zone_counts = q{
	SELECT pg_catalog.string_agg(n::text, ',' ORDER BY o) FROM (
		SELECT 1 AS o, pg_catalog.count(*) AS n FROM trusted.customer
		UNION ALL SELECT 2, pg_catalog.count(*) FROM trusted.accelerometer
		UNION ALL SELECT 3, pg_catalog.count(*) FROM curated.customer
		UNION ALL SELECT 4, pg_catalog.count(*) FROM trusted.step_trainer
		UNION ALL SELECT 5, pg_catalog.count(*) FROM curated.machine_learning) AS c};

# StediTest->new(name, gen => folder, batches => n, first_seed => s,
#				 conf => more postgresql.conf lines)
#
# Starts a server named name with stedi preloaded, and makes batches 1 to n
# (seeds first_seed, 1 unless given, to first_seed + n - 1) in
# tmp_check/folder.
sub new
{
	my ($class, $name, %opts) = @_;
	my $self = bless {
		node => PostgreSQL::Test::Cluster->new($name),
		gen => "$PostgreSQL::Test::Utils::tmp_check/$opts{gen}",
	}, $class;
	my $node = $self->{node};

	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'stedi'
max_worker_processes = 16
} . ($opts{conf} // ''));
	$node->start;
	for my $batch (1 .. $opts{batches})
	{
		command_ok([ 'stedi-gen', '--scale', '0.02',
				'--seed', ($opts{first_seed} // 1) + $batch - 1, "$self->{gen}/$batch" ],
			"generate batch $batch");
	}
	return $self;
}

sub node
{
	my ($self) = @_;
	return $self->{node};
}

# Loads a batch into database db with stedi-load; more options (-U role)
# go before the folder.
sub load
{
	my ($self, $db, $batch, @options) = @_;
	command_ok([ 'stedi-load', '-q', '-d', $self->{node}->connstr($db),
			@options, "$self->{gen}/$batch" ],
		"load batch $batch into $db" . (@options ? " (@options)" : ''));
}

# Creates database db, with stedi installed.
sub create_database
{
	my ($self, $db) = @_;

	$self->{node}->safe_psql('postgres', "CREATE DATABASE $db");
	$self->{node}->safe_psql($db, 'CREATE EXTENSION stedi');
}

# Creates database db, with stedi installed and a refresh every second.
sub create_scheduled_database
{
	my ($self, $db) = @_;

	$self->create_database($db);
	$self->{node}->safe_psql($db, "SELECT stedi.schedule_refresh('1 second')");
}

# What the zones must hold: the same batches loaded into a database that is
# refreshed by hand.
sub expected_after
{
	my ($self, @batches) = @_;
	my $node = $self->{node};

	$node->safe_psql('postgres', 'DROP DATABASE IF EXISTS reference');
	$self->create_database('reference');
	$self->load('reference', $_) for @batches;
	$node->safe_psql('reference', 'SELECT count(*) FROM stedi.refresh()');
	return $node->safe_psql('reference', $zone_counts);
}

# The pid of the scheduler's launcher.
sub launcher_pid
{
	my ($self) = @_;
	return $self->{node}->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'stedi scheduler'");
}

1;
