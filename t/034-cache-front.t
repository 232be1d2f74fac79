# The cache's shared-memory front tier: hot entries are served without a
# round trip to Redis (Redis's own count of MGET commands does not move),
# in every worker; every access rule still holds for them; a purge drops
# them on this node at once and on another node through Redis's purge
# counter; and while Redis is down hot entries keep being served and the
# misses of one key reach the origin once.  (Test::More: Redis is stopped
# and two gateways share it.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my ($redis, $rport) = Gateway::start_redis();
my $port = Gateway::free_port();
my $denied = Gateway::free_port();
my $bport = Gateway::free_port();
my $mock = $ENV{TEST_NGINX_MOCK_7D_PORT};
# how long waiters wait for a key's one request to the upstream: well
# above its (scaled) one second of delay below, also under valgrind
my $lock = Gateway::scaled(10);

sub gateway {
    my ($listen, $zone, $extra) = @_;
    return <<"CONF";
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_redis 127.0.0.1:$rport;
    sevendigital_redis_timeout 300ms;
    sevendigital_cache_front_zone $zone:1m ttl=60s min_uses=2;
    server {
        listen 127.0.0.1:$listen;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_cache on;
            sevendigital_cache_front $zone;
            sevendigital_cache_lock_timeout ${lock}s;
            add_header X-Cache-Status \$sevendigital_cache_status always;
            proxy_pass http://127.0.0.1:$mock;
            proxy_next_upstream off;
        }
        location ~ ^/purge(/.*)\$ {
            sevendigital_cache_purge 7digital \$1;
        }
        location = /metrics {
            sevendigital_metrics;
        }
    }
$extra
CONF
}

# gateway A, two workers, and a server of its own that denies everyone
my $deny = <<"CONF";
    server {
        listen 127.0.0.1:$denied;
        location /1.2/ {
            deny all;
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_cache on;
            sevendigital_cache_front front;
            proxy_pass http://127.0.0.1:$mock;
            proxy_next_upstream off;
        }
    }
CONF
my $a = Gateway::start_nginx('front-a', gateway($port, 'front', $deny),
                             port => $port, workers => 2);

# gateway B: another node, on the same Redis
my $b = Gateway::start_nginx('front-b', gateway($bport, 'front', ''),
                             port => $bport);

sub target {
    my ($id, $key) = @_;
    return "/1.2/release/details?releaseId=$id&oauth_consumer_key="
           . ($key // 'acme-key-0001');
}

sub get {
    my ($p, $id, $key) = @_;
    my $r = Gateway::http_get($p, target($id, $key));
    return [$r->{status}, $r->{headers}{'x-cache-status'} // ''];
}

# Redis's own count of MGET commands: the cache lookups that reached it
sub mgets {
    my $info = Gateway::redis_at($rport, 'INFO', 'commandstats');
    return $info =~ /cmdstat_mget:calls=(\d+)/ ? $1 : 0;
}

# PURGE: the status
sub purge {
    my ($p, $target) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect: $!";
    print $s "PURGE $target HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    return $res =~ m{^HTTP/1\.1 (\d+)} ? $1 : 0;
}

# the front tier's hits, as the metrics endpoint counts them (parsed with
# the Prometheus client's own parser)
sub front_hits {
    my ($p) = @_;
    my $r = Gateway::http_get($p, '/metrics');
    my $in = "$FindBin::Bin/servroot-front-a/logs/metrics.txt";
    open my $fh, '>', $in or die $!;
    print $fh $r->{body};
    close $fh;
    my $json = `/usr/bin/python3 $FindBin::Bin/lib/prometheus_parse.py < $in`;
    my ($n) = $json =~ /"sevendigital_cache_front_hits_total\{\}": ([\d.]+)/;
    return $n // -1;
}

sub upstream { Gateway::mock_count($mock, '/1.2/release/details') }

# A node keeps nothing Redis answered before it has read Redis's purge
# counter (at once when a worker starts): wait until a hot entry is served
# without Redis.
sub warm {
    my ($p) = @_;
    my $deadline = time + Gateway::scaled(5);
    while (time < $deadline) {
        get($p, 'warm');
        get($p, 'warm');
        my $m = mgets();
        get($p, 'warm');
        return 1 if mgets() == $m;
    }
    return 0;
}

ok(warm($port), 'node A keeps hot entries');
ok(warm($bport), 'node B keeps hot entries');
Gateway::http_get($mock, '/__mock/reset');

# -- served from shared memory -------------------------------------------

is_deeply(get($port, 'f1'), [200, 'MISS'], 'a miss');
is_deeply(get($port, 'f1'), [200, 'HIT'], 'a hit from Redis: admitted');
my $before = mgets();
my $counted = front_hits($port);
my @hits = map { get($port, 'f1') } 1 .. 10;
is_deeply(\@hits, [map { [200, 'HIT'] } 1 .. 10],
          'ten more hits, from both workers');
is(mgets(), $before, '... none of them asked Redis');
is(upstream(), 1, '... nor the upstream');
cmp_ok(front_hits($port), '==', $counted + 10, '... and the metrics count them');

# the key of another partner: the same entry, same tier
is_deeply(get($port, 'f1', 'globex-key-0002'), [200, 'HIT'],
          'another partner shares the entry');

# -- access rules hold for a copy in shared memory ------------------------

is(get($port, 'f1', 'no-such-key')->[0], 401,
   'an unknown key is refused, not served the copy');
is(get($denied, 'f1')->[0], 403, 'a location that denies: 403, no copy');
is(mgets(), $before, '... and Redis was not asked either time');

# -- purge: this node at once, another node through Redis -----------------

is_deeply(get($bport, 'f1'), [200, 'HIT'], 'node B: a hit from Redis');
is_deeply(get($bport, 'f1'), [200, 'HIT'], 'node B: admitted');
my $b_before = mgets();
is_deeply(get($bport, 'f1'), [200, 'HIT'], 'node B: from its front tier');
is(mgets(), $b_before, '... without Redis');

is(purge($port, '/purge/1.2/release/details?releaseId=f1'), 200,
   'purged on node A');
is_deeply(get($port, 'f1'), [200, 'MISS'], 'node A: a miss at once');

# node B drops its copy when it sees the purge counter move (every
# 100 ms): until then it answers from its front tier, without Redis
my $deadline = time + Gateway::scaled(5);
my $asked = 0;
while (!$asked && time < $deadline) {
    my $m = mgets();
    get($bport, 'f1');
    $asked = mgets() > $m;
    sleep 0.05 unless $asked;
}
ok($asked, 'node B: its copy dropped, Redis asked again');
isnt(Gateway::redis_at($rport, 'GET', 'sevendigital:purges'), undef,
     'the purge counter is in Redis');

# -- Redis down: hot entries served, misses collapsed ---------------------

is_deeply(get($port, 'f2'), [200, 'MISS'], 'f2: a miss');
is_deeply(get($port, 'f2'), [200, 'HIT'], 'f2: admitted');
my $up = upstream();

Gateway::stop_child($redis);

my @down = map { get($port, 'f2') } 1 .. 5;
is_deeply(\@down, [map { [200, 'HIT'] } 1 .. 5],
          'Redis stopped: the hot entry is served');
is(upstream(), $up, '... and the upstream not asked');

# eight clients ask for one key nobody has: the first holds the node's
# lock while the upstream answers slowly, the others wait for its answer
Gateway::http_get($mock, '/__mock/fail?path=/1.2/release/details'
                         . '&delay=' . Gateway::scaled(1) . '&times=1');
my @socks;
for (1 .. 8) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 30)
        or die "connect: $!";
    print $s "GET " . target('f3') . " HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n\r\n";
    push @socks, $s;
}
my @status;
for my $s (@socks) {
    local $/;
    my $res = <$s> // '';
    push @status, $res =~ m{^HTTP/1\.1 (\d+)} ? $1 : 0;
}
is_deeply(\@status, [map { 200 } 1 .. 8], 'Redis stopped: eight answered');
is(upstream(), $up + 1, '... the upstream asked once');
is_deeply(get($port, 'f3'), [200, 'HIT'], '... and then served from memory');

# back: Redis is asked again (keys never asked before, until one is)
($redis) = Gateway::start_redis($rport);
$deadline = time + Gateway::scaled(10);
my ($back, $i) = (0, 0);
while (!$back && time < $deadline) {
    my $m = mgets();
    get($port, 'back' . $i++);
    $back = mgets() > $m;
    sleep 0.1 unless $back;
}
ok($back, 'Redis back: the gateway looks entries up there again');

is(Gateway::log_count($a, qr/\[(alert|crit|emerg)\]/), 0, 'no alert in A');
is(Gateway::log_count($b, qr/\[(alert|crit|emerg)\]/), 0, 'no alert in B');

# -- nginx -t -------------------------------------------------------------

my $tmp = "$FindBin::Bin/servroot-front-t";
mkdir $tmp;
my ($rc, $out) = Gateway::nginx_t($tmp, <<"CONF");
    sevendigital_rate_limit_zone limits:1m;
    server { location /1.2/ { sevendigital_cache_front limits; } }
CONF
isnt($rc, 0, 'nginx -t: a zone that is not a front tier\'s is refused');
like($out, qr/"sevendigital_cache_front" zone "limits" is not a front tier's/,
     '... saying so');
($rc, $out) = Gateway::nginx_t($tmp, <<"CONF");
    server { location /1.2/ { sevendigital_cache_front nowhere; } }
CONF
like($out, qr/"sevendigital_cache_front" zone "nowhere" is not a front tier's/,
     'an undeclared zone too');
($rc, $out) = Gateway::nginx_t($tmp, <<"CONF");
    server { location /1.2/ { sevendigital_cache_front front; } }
    sevendigital_cache_front_zone front:1m ttl=0;
CONF
like($out, qr/invalid "ttl=0" in "sevendigital_cache_front_zone", between 1ms and 60s/,
     'a ttl of 0 is refused');
($rc, $out) = Gateway::nginx_t($tmp, <<"CONF");
    server { location /1.2/ { sevendigital_cache_front front; } }
    sevendigital_cache_front_zone front:1m ttl=250ms min_uses=1;
CONF
is($rc, 0, 'a zone declared after the location that uses it is found')
    or diag($out);

Gateway::stop_nginx($a);
Gateway::stop_nginx($b);
Gateway::stop_child($redis);

done_testing();
