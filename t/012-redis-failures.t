# A real redis-server stopped, paused and restarted under a running
# gateway: every request is still answered, none waits much longer than
# the Redis timeout, each incident is logged once, and the worker
# reconnects by itself.  (Test::More: the format of the other suites has
# no way to stop Redis between two requests of one block.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use Time::HiRes qw(time sleep);

my $port = Gateway::free_port();
# The Redis timeout under test, long enough that a request that did not
# wait for it is never taken for one that did on a busy machine; a bound
# below it for requests that must not wait, one well above it for those
# that wait at most the timeout.
my $timeout = Gateway::scaled(1) * 1000;
my $quick = 0.8 * $timeout / 1000;
my $bound = Gateway::scaled(3);
my ($redis, $rport) = Gateway::start_redis();

my $dir = Gateway::start_nginx('redis', <<"CONF", port => $port);
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_redis 127.0.0.1:$rport;
    sevendigital_redis_timeout ${timeout}ms;
    server {
        listen 127.0.0.1:$port;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_cache on;
            add_header X-Cache-Status \$sevendigital_cache_status always;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_7D_PORT};
        }
    }
CONF

my $target = '/1.2/release/details?releaseId=12345'
             . '&oauth_consumer_key=acme-key-0001';

# one request: (status, cache status, seconds taken)
sub get {
    my $r = Gateway::http_get($port, $target);
    return ($r->{status}, $r->{headers}{'x-cache-status'} // '',
            $r->{seconds});
}

# poll with a deadline until a request is answered with the given status
sub until_cache {
    my ($want, $seconds) = @_;
    my $deadline = time + Gateway::scaled($seconds);
    my @r;
    while (time < $deadline) {
        @r = get();
        return @r if $r[1] eq $want;
        sleep 0.1;
    }
    return @r;
}

my @r = get();
is_deeply([@r[0, 1]], [200, 'MISS'], 'with Redis up: a miss');
@r = get();
is_deeply([@r[0, 1]], [200, 'HIT'], '... then a hit');

# stopped
Gateway::stop_child($redis);

for my $i (1 .. 3) {
    @r = get();
    is_deeply([@r[0, 1]], [200, 'BYPASS'], "Redis stopped: answered ($i)");
    cmp_ok($r[2], '<', $quick, "... without waiting ($i)");
}

is(Gateway::log_count($dir, qr/redis unavailable/), 1,
   'the incident is logged once');

# restarted on the same port: the worker reconnects by itself
($redis) = Gateway::start_redis($rport);

@r = until_cache('MISS', 10);
is_deeply([@r[0, 1]], [200, 'MISS'], 'Redis back: the worker reconnected');
@r = get();
is_deeply([@r[0, 1]], [200, 'HIT'], '... and caches again');
is(Gateway::log_count($dir, qr/redis is reachable again/), 1,
   'the recovery is logged');

# paused: replies stop coming, requests are answered after the timeout
kill 'STOP', $redis;

for my $i (1 .. 4) {
    @r = get();
    is($r[0], 200, "Redis paused: answered ($i)");
    cmp_ok($r[2], '<', $bound, "... within about the Redis timeout ($i)");
}

is(Gateway::log_count($dir, qr/redis did not answer within $timeout ms/), 1,
   'the slowness is logged once');

kill 'CONT', $redis;

@r = until_cache('HIT', 10);
is_deeply([@r[0, 1]], [200, 'HIT'], 'Redis resumed: hits again');
is(Gateway::log_count($dir, qr/redis is reachable again/), 2,
   '... and that is logged once more');

# paused under parallel load: once the first commands timed out, nobody
# waits for Redis any more; a probe finds it back
my $clients = 6;
my $incidents = Gateway::log_count($dir, qr/redis did not answer|redis unavailable/);

kill 'STOP', $redis;

my @pipes;
for (1 .. $clients) {
    pipe my $rd, my $wr or die $!;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        close $rd;
        # requests one after another, for ten Redis timeouts
        my $until = time + 10 * $timeout / 1000;
        while (time < $until) {
            my @g = get();
            printf $wr "%d %.3f\n", $g[0], $g[2];
        }
        close $wr;
        exit 0;
    }
    close $wr;
    push @pipes, [$pid, $rd];
}

my (@statuses, @slow, $n);
for my $p (@pipes) {
    while (my $line = readline $p->[1]) {
        my ($status, $seconds) = split ' ', $line;
        push @statuses, $status;
        # the upstream alone never takes that long
        push @slow, $seconds if $seconds >= 0.9 * $timeout / 1000;
        $n++;
    }
    waitpid $p->[0], 0;
}

is(scalar(grep { $_ != 200 } @statuses), 0,
   "Redis paused under load: all $n requests answered 200");
cmp_ok(scalar(@slow), '<=', $clients,
       '... only those in flight when it stopped answering waited for it');
cmp_ok($n, '>', 2 * $clients, '... the others did not wait at all');
is(Gateway::log_count($dir, qr/redis did not answer|redis unavailable/),
   $incidents + 1, '... the incident is logged once');

kill 'CONT', $redis;

@r = until_cache('HIT', 10);
is_deeply([@r[0, 1]], [200, 'HIT'], 'Redis resumed: the cache is used again');
is(Gateway::log_count($dir, qr/redis is reachable again/), 3,
   '... and its end is logged once');

# a reload: the old worker closes its Redis connection, the new one opens
# its own when first needed
kill 'HUP', Gateway::master_pid($dir);

ok(Gateway::wait_log($dir, qr/gracefully shutting down/),
   'reloaded: the old worker is shutting down');

@r = until_cache('HIT', 10);
is_deeply([@r[0, 1]], [200, 'HIT'], 'the new worker serves hits');

# a graceful stop closes the Redis connection without alerts
Gateway::stop_nginx($dir);

is(Gateway::log_count($dir, qr/\[alert\]|\[crit\]|\[emerg\]/), 0,
   'no alert, crit or emerg in the whole log');

Gateway::stop_child($redis);
done_testing();
