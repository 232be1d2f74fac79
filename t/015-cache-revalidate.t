# Stale-while-revalidate: with sevendigital_cache_background_update, the
# request that finds an entry expired answers with it at once (UPDATING)
# and refreshes it in the background; the client has its whole answer
# before the upstream has answered.  Then: Redis round trips, counted by
# a relay in front of Redis, one per hit, signed requests included (the
# nonce's SET NX and the cache's MGET leave together).  Timing matters
# here (who answers before a slow upstream), so this is Test::More.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX qw(WNOHANG);

my $port = Gateway::free_port();
my $rport = Gateway::free_port();
my $mock = $ENV{TEST_NGINX_MOCK_7D_PORT};
my $trips_file = "$FindBin::Bin/servroot-relay.trips";
my $K = 'oauth_consumer_key=acme-key-0001';

Gateway::spawn('redis relay', $rport, '/usr/bin/python3',
               "$FindBin::Bin/mock/redis_relay.py", $rport,
               $ENV{TEST_NGINX_REDIS_PORT}, $trips_file);

my $dir = Gateway::start_nginx('revalidate', <<"CONF", port => $port);
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_redis 127.0.0.1:$rport;
    sevendigital_redis_timeout $ENV{TEST_NGINX_REDIS_TIMEOUT};
    server {
        listen 127.0.0.1:$port;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_cache on;
            sevendigital_cache_stale 1h;
            sevendigital_cache_background_update on;
            add_header X-Cache-Status \$sevendigital_cache_status always;
            proxy_pass http://127.0.0.1:$mock;
        }
        location /sync/ {
            rewrite ^/sync(/.*)\$ \$1 break;
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_cache on;
            sevendigital_cache_stale 1h;
            add_header X-Cache-Status \$sevendigital_cache_status always;
            proxy_pass http://127.0.0.1:$mock;
        }
        location /signed/ {
            rewrite ^/signed(/.*)\$ \$1 break;
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_require_signature on;
            sevendigital_cache on;
            add_header X-Cache-Status \$sevendigital_cache_status always;
            proxy_pass http://127.0.0.1:$mock;
        }
        location /limited/ {
            rewrite ^/limited(/.*)\$ \$1 break;
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_require_signature on;
            sevendigital_rate_limit catalogue rate=1r/m burst=2;
            sevendigital_cache on;
            add_header X-Cache-Status \$sevendigital_cache_status always;
            proxy_pass http://127.0.0.1:$mock;
        }
        location /__mock/ {
            proxy_pass http://127.0.0.1:$mock;
        }
    }
CONF

sub mock_count {
    return Gateway::mock_count($port, $_[0]);
}

sub expired {
    my ($id, $body) = @_;
    Gateway::plant_entry(
        Gateway::cache_key('7digital', '/1.2/release/details', 'xml',
                           releaseId => $id),
        type => 'application/xml; charset=utf-8', fresh => -60,
        stale => 3000, body => $body);
    return "/1.2/release/details?releaseId=$id&$K";
}

# waits for a condition, polling, up to a deadline; returns its last value
sub eventually {
    my ($cond, $seconds) = @_;
    my $deadline = time + Gateway::scaled($seconds // 5);
    my $v;
    until (($v = $cond->()) || time > $deadline) {
        sleep 0.02;
    }
    return $v;
}

sub trips {
    open my $f, '<', $trips_file or return 0;
    my $n = <$f>;
    return ($n // 0) + 0;
}

Gateway::http_get($port, '/__mock/reset');

# how long the slow upstream takes: every bound below is a fraction of it,
# and it grows with TEST_NGINX_TIME_SCALE
my $delay = Gateway::scaled(1);

# 1. an expired entry, a slow upstream: the client does not wait for it
my $target = expired('swr-1', '<old/>');
Gateway::http_get($port, "/__mock/fail?path=/1.2/release/details&delay=$delay");

my $r = Gateway::http_fetch($port, $target);
is($r->{status}, 200, 'the expired entry is answered');
is($r->{headers}{'x-cache-status'}, 'UPDATING', '... as UPDATING');
is($r->{body}, '<old/>', '... with its stored body');
cmp_ok($r->{seconds}, '<', $delay, '... before the upstream answered');
cmp_ok($r->{closed}, '>=', $delay - 0.05,
       'the connection stays open while the refresh runs behind it');
is(mock_count('/1.2/release/details'), 1, 'the refresh went upstream once');

# 2. the refreshed entry is stored
my $after = Gateway::http_get($port, $target);
is($after->{headers}{'x-cache-status'}, 'HIT', 'the refreshed entry hits');
like($after->{body}, qr/<release id="12345">/, '... with the new answer');
is(mock_count('/1.2/release/details'), 1, '... without the upstream');

# 3. without the directive the same request waits for the upstream
Gateway::http_get($port, '/__mock/reset');
$target = expired('swr-2', '<old/>');
Gateway::http_get($port, "/__mock/fail?path=/1.2/release/details&delay=$delay");
$r = Gateway::http_fetch($port, "/sync$target");
is($r->{headers}{'x-cache-status'}, 'EXPIRED',
   'background update off: EXPIRED');
cmp_ok($r->{seconds}, '>=', $delay - 0.05,
       '... the client waited for the upstream');

# 4. while a refresh runs, other clients get the expired entry at once
Gateway::http_get($port, '/__mock/reset');
$target = expired('swr-3', '<old-3/>');
Gateway::http_get($port, "/__mock/fail?path=/1.2/release/details&delay=$delay");

my $pid = fork;
die "fork: $!" unless defined $pid;
if ($pid == 0) {
    Gateway::http_fetch($port, $target);
    exit 0;
}

ok(eventually(sub { mock_count('/1.2/release/details') == 1 }),
   'the first client started a refresh');
my $second = Gateway::http_fetch($port, $target);
is($second->{headers}{'x-cache-status'}, 'UPDATING',
   'a second client gets the expired entry too');
ok(waitpid($pid, WNOHANG) == 0,
   '... at once, while the first refresh is still running');
cmp_ok($second->{closed}, '<', $delay,
       '... and starts no refresh of its own');
waitpid $pid, 0;
is(mock_count('/1.2/release/details'), 1, 'one refresh in all');

# 5. a refresh that fails leaves the entry as it was
Gateway::http_get($port, '/__mock/reset');
$target = expired('swr-4', '<kept/>');
Gateway::http_get($port, '/__mock/fail?path=/1.2/release/details&status=500');
$r = Gateway::http_fetch($port, $target);
is($r->{headers}{'x-cache-status'}, 'UPDATING', 'refresh failing: UPDATING');
is($r->{body}, '<kept/>', '... the client never sees the failure');
$r = Gateway::http_get($port, $target);
is($r->{body}, '<kept/>', 'the entry is still the old one');
is(mock_count('/1.2/release/details'), 2,
   '... and the next request tried again');

# the writes a miss leaves behind (the entry, the lock's release) are
# done once Redis has released the lock: only then is the count still
sub settled {
    my ($id, $format) = @_;
    (my $lock = Gateway::cache_key('7digital', '/1.2/artist/details',
                                   $format // 'xml', artistId => $id))
        =~ s/^sevendigital:cache:/sevendigital:lock:/;
    ok(eventually(sub { Gateway::redis('EXISTS', $lock) eq '0' }),
       "the miss of $id has released its lock");
}

# 6. round trips: a hit costs one, a signed hit one as well
Gateway::http_get($port, "/1.2/artist/details?artistId=rt-1&$K");
settled('rt-1');
my $t0 = trips();
$r = Gateway::http_get($port, "/1.2/artist/details?artistId=rt-1&$K");
is($r->{headers}{'x-cache-status'}, 'HIT', 'a hit');
is(trips() - $t0, 1, '... one Redis round trip');

$ENV{TEST_NGINX_SERVER_PORT} = $port;
my $first = Gateway::oauth_request('rt-a', type => 'query',
    path => '/signed/1.2/artist/details?artistId=rt-2',
    key => 'acme-key-0001', secret => 'acme-secret-0001');
my $again = Gateway::oauth_request('rt-b', type => 'query',
    path => '/signed/1.2/artist/details?artistId=rt-2',
    key => 'acme-key-0001', secret => 'acme-secret-0001');

$r = Gateway::http_get($port, $first->{target});
is($r->{headers}{'x-cache-status'}, 'MISS', 'a signed miss');
settled('rt-2');
$t0 = trips();
$r = Gateway::http_get($port, $again->{target});
is($r->{status}, 200, 'a signed hit, its nonce new');
is($r->{headers}{'x-cache-status'}, 'HIT', '... served from the cache');
is(trips() - $t0, 1, '... nonce and entry in one Redis round trip');

$r = Gateway::http_get($port, $again->{target});
is($r->{status}, 401, 'the same signed request again is a replay');
isnt($r->{headers}{'x-cache-status'} // '', 'HIT',
     '... and is not served from the cache');

# 7. a rate-limited signed hit: nonce, limit and entry in one round trip,
# and a refusal for the rate as well
Gateway::redis('DEL', 'sevendigital:rl:catalogue:acme');
my @limited = map {
    Gateway::oauth_request("rl-$_", type => 'query',
        path => '/limited/1.2/artist/details?artistId=rt-3',
        key => 'acme-key-0001', secret => 'acme-secret-0001')
} 1 .. 4;

$r = Gateway::http_get($port, $limited[0]{target});
is($r->{headers}{'x-cache-status'}, 'MISS', 'rate limit on: a signed miss');
settled('rt-3');
$t0 = trips();
$r = Gateway::http_get($port, $limited[1]{target});
is($r->{headers}{'x-cache-status'}, 'HIT', 'a signed, rate-limited hit');
is(trips() - $t0, 1, '... nonce, limit and entry in one Redis round trip');
Gateway::http_get($port, $limited[2]{target});
$t0 = trips();
$r = Gateway::http_get($port, $limited[3]{target});
is($r->{status}, 429, 'over the limit: 429');
is(trips() - $t0, 1, '... decided in that same one round trip');

Gateway::stop_nginx($dir);
unlink $trips_file;

is(Gateway::log_count($dir, qr/\[alert\]|\[crit\]|\[emerg\]|\[error\]/), 0,
   'no error, alert, crit or emerg in the whole log');

done_testing();
