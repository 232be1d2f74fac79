# Stampede protection: many simultaneous misses of one entry, across two
# workers, send one request upstream (the mock counts); the others wait for
# the entry, or take the expired one at once.  Clients run in parallel, so
# this is Test::More rather than the data-driven format.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use Time::HiRes qw(time sleep);

my $port = Gateway::free_port();
my $mock = $ENV{TEST_NGINX_MOCK_7D_PORT};
my $clients = 10;
# the slow upstream's delay; bounds below are fractions of it
my $delay = Gateway::scaled(1);
my $lock_timeout = Gateway::scaled(5);

my $dir = Gateway::start_nginx('lock', <<"CONF", port => $port, workers => 2);
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    sevendigital_redis_timeout $ENV{TEST_NGINX_REDIS_TIMEOUT};
    server {
        listen 127.0.0.1:$port;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_cache on;
            sevendigital_cache_stale 1h;
            sevendigital_cache_lock_timeout ${lock_timeout}s;
            add_header X-Cache-Status \$sevendigital_cache_status always;
            proxy_pass http://127.0.0.1:$mock;
        }
        location /__mock/ {
            proxy_pass http://127.0.0.1:$mock;
        }
    }
CONF

# all clients at once; returns their results
sub stampede {
    my ($target) = @_;
    my @pipes;
    for (1 .. $clients) {
        pipe my $rd, my $wr or die $!;
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            close $rd;
            my $r = Gateway::http_get($port, $target);
            printf $wr "%s\t%s\t%.3f\t%s\n", $r->{status},
                   $r->{headers}{'x-cache-status'} // '', $r->{seconds},
                   length $r->{body};
            close $wr;
            exit 0;
        }
        close $wr;
        push @pipes, [$pid, $rd];
    }
    my @results;
    for my $p (@pipes) {
        my $line = readline $p->[1];
        waitpid $p->[0], 0;
        chomp $line;
        push @results, [split /\t/, $line];
    }
    return @results;
}

sub mock_count {
    return Gateway::mock_count($port, $_[0]);
}

Gateway::http_get($port, '/__mock/reset');

# 1. a cold entry, a slow upstream: one request goes upstream
Gateway::http_get($port, "/__mock/fail?path=/1.2/release/details&delay=$delay");

my @r = stampede('/1.2/release/details?releaseId=cold-1'
                 . '&oauth_consumer_key=acme-key-0001');

is(scalar(grep { $_->[0] == 200 } @r), $clients, 'every client got 200');
is(scalar(grep { $_->[1] eq 'MISS' } @r), 1, 'one miss went upstream');
is(scalar(grep { $_->[1] eq 'HIT' } @r), $clients - 1,
   'the others waited and hit');
my %sizes = map { $_->[3] => 1 } @r;
is(scalar(keys %sizes), 1, 'every client got the same body');
is(mock_count('/1.2/release/details'), 1, 'the upstream saw one request');

# 2. an expired entry: one refreshes it, the others get it at once
Gateway::http_get($port, '/__mock/reset');
Gateway::plant_entry(
    Gateway::cache_key('7digital', '/1.2/release/details', 'xml',
                       releaseId => 'warm-1'),
    type => 'application/xml; charset=utf-8', fresh => -60, stale => 3000,
    body => '<old/>');
Gateway::http_get($port, "/__mock/fail?path=/1.2/release/details&delay=$delay");

@r = stampede('/1.2/release/details?releaseId=warm-1'
              . '&oauth_consumer_key=globex-key-0002');

is(scalar(grep { $_->[0] == 200 } @r), $clients, 'every client got 200');
is(scalar(grep { $_->[1] eq 'EXPIRED' } @r), 1, 'one refreshed the entry');
my @updating = grep { $_->[1] eq 'UPDATING' } @r;
is(scalar(@updating), $clients - 1, 'the others got the expired entry');
is(scalar(grep { $_->[2] < $delay } @updating), scalar(@updating),
   '... without waiting for the upstream');
is(mock_count('/1.2/release/details'), 1, 'the upstream saw one request');

# 3. after the refresh, everyone hits the new entry
my $after = Gateway::http_get($port, '/1.2/release/details?releaseId=warm-1'
                                     . '&oauth_consumer_key=acme-key-0001');
is($after->{headers}{'x-cache-status'}, 'HIT', 'the refreshed entry hits');
like($after->{body}, qr/<release id="12345">/, '... with the new answer');

# 4. the holder's answer is not stored (a slow 404): the others see the
# lock go away and go on at once, not after the lock's time
Gateway::http_get($port, '/__mock/reset');
Gateway::http_get($port, "/__mock/fail?path=/1.2/release/details&status=404"
                         . "&delay=$delay");

@r = stampede('/1.2/release/details?releaseId=cold-404'
              . '&oauth_consumer_key=acme-key-0001');

is(scalar(grep { $_->[0] == 404 } @r), 1, 'one client got the slow 404');
is(scalar(grep { $_->[0] == 200 } @r), $clients - 1,
   'the others went upstream themselves');
is(scalar(grep { $_->[2] < ($delay + $lock_timeout) / 2 } @r), $clients,
   '... as soon as the lock was released, not when it ran out');

# 5. a lock that is no longer ours (it ran out and another request took
# it) is left alone when our answer is done
sub lock_key {
    (my $k = Gateway::cache_key('7digital', '/1.2/release/details', 'xml',
                                releaseId => $_[0]))
        =~ s/^sevendigital:cache:/sevendigital:lock:/;
    return $k;
}

Gateway::http_get($port, "/__mock/fail?path=/1.2/release/details&delay=$delay");

my $pid = fork;
die "fork: $!" unless defined $pid;
if ($pid == 0) {
    Gateway::http_get($port, '/1.2/release/details?releaseId=theirs'
                             . '&oauth_consumer_key=acme-key-0001');
    exit 0;
}

my $deadline = time + $lock_timeout;
sleep 0.01 until Gateway::redis('EXISTS', lock_key('theirs')) eq '1'
                 || time > $deadline;
is(Gateway::redis('SET', lock_key('theirs'), 'another-node', 'PX', 60000),
   '+OK', 'the lock taken over by another node');
waitpid $pid, 0;
is(Gateway::redis('GET', lock_key('theirs')), 'another-node',
   '... is still there after our answer');

Gateway::stop_nginx($dir);

is(Gateway::log_count($dir, qr/\[alert\]|\[crit\]|\[emerg\]|\[error\]/), 0,
   'no error, alert, crit or emerg in the whole log');

done_testing();
