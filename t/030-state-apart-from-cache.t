# State apart from the cache: with sevendigital_redis_cache, cache entries
# (and their locks and purge generations) go to a Redis that may evict,
# and user tokens, nonces and rate limits stay in the one that must not.
# The cache Redis is filled past its maxmemory under allkeys-lru: entries
# are evicted, and a user's token still works.  (Test::More: two Redis
# servers of the test's own.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use IO::Socket::INET;

my ($state, $sport) = Gateway::start_redis();
my ($cache, $cport) = Gateway::start_redis(undef, '--maxmemory', '2mb',
                                           '--maxmemory-policy', 'allkeys-lru');
my $mock = $ENV{TEST_NGINX_MOCK_7D_PORT};
my $port = Gateway::free_port();

my $dir = Gateway::start_nginx('apart', <<"CONF", port => $port);
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_redis 127.0.0.1:$sport;
    sevendigital_redis_cache 127.0.0.1:$cport;
    sevendigital_redis_timeout $ENV{TEST_NGINX_REDIS_TIMEOUT};
    sevendigital_audit_log off;
    proxy_next_upstream off;
    server {
        listen 127.0.0.1:$port;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_upstream_secret_file $ENV{TEST_NGINX_FIXTURES}/upstream-7d.secret;
            sevendigital_upstream_origin http://127.0.0.1:$mock;
            sevendigital_rate_limit catalogue rate=100r/s burst=1000;
            sevendigital_cache on;
            add_header X-Cache-Status \$sevendigital_cache_status always;
            proxy_pass http://127.0.0.1:$mock;
        }
    }
CONF

# one command to one of the two
sub redis_at {
    my ($p, @args) = @_;
    local $ENV{TEST_NGINX_REDIS_PORT} = $p;
    return Gateway::redis(@args);
}

sub keys_at {
    my ($p, $pattern) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p)
        or die "redis: $!";
    print $s "*2\r\n\$4\r\nKEYS\r\n\$" . length($pattern) . "\r\n$pattern\r\n";
    my $n = <$s>;
    my @keys;
    for (1 .. ($n =~ /^\*(\d+)/)[0]) {
        <$s>;
        my $k = <$s>;
        $k =~ s/\r\n$//;
        push @keys, $k;
    }
    close $s;
    return @keys;
}

$ENV{TEST_NGINX_SERVER_PORT} = $port;

sub signed {
    my ($id, %a) = @_;
    my $s = Gateway::oauth_request($id, key => 'acme-key-0001',
                                   secret => 'acme-secret-0001',
                                   type => 'query', %a);
    return Gateway::http_get($port, $s->{target});
}

# a user's token, obtained through the gateway (the mock issues it)
Gateway::http_get($mock, '/__mock/next_token?token=rt-apart&secret=rts-apart');
my $r = signed('a1', path => '/1.2/oauth/requesttoken?oauth_callback=oob');
like($r->{body}, qr/oauth_token=rt-apart/, 'a request token');
Gateway::http_get($mock, '/__mock/next_token?token=at-apart&secret=ats-apart');
$r = signed('a2', path => '/1.2/oauth/accesstoken?oauth_verifier=v',
            token => 'rt-apart', token_secret => 'rts-apart');
like($r->{body}, qr/<oauth_token>at-apart</, 'an access token');

# a catalogue read, twice: stored, then a hit
my $read = '/1.2/release/details?releaseId=1&oauth_consumer_key=acme-key-0001';
Gateway::http_get($port, $read);
$r = Gateway::http_get($port, $read);
is($r->{headers}{'x-cache-status'}, 'HIT', 'a catalogue read hits');

ok(scalar keys_at($cport, 'sevendigital:cache:*'),
   'the cache entry is in the cache Redis');
is(scalar keys_at($sport, 'sevendigital:cache:*'), 0,
   '... not in the state Redis');
ok(scalar keys_at($sport, 'sevendigital:token:*'),
   'token secrets are in the state Redis');
is(scalar keys_at($cport, 'sevendigital:token:*'), 0,
   '... not in the cache Redis');
ok(scalar keys_at($sport, 'sevendigital:nonce:*'),
   'nonces are in the state Redis');
ok(scalar keys_at($sport, 'sevendigital:rl:*'),
   'rate limits are in the state Redis');

# fill the cache Redis well past its 2 MB: 4000 values of 1 KB
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $cport)
    or die "redis: $!";
my $v = 'x' x 1024;
for my $i (1 .. 4000) {
    my $k = "filler:$i";
    print $s "*3\r\n\$3\r\nSET\r\n\$" . length($k) . "\r\n$k\r\n\$1024\r\n$v\r\n";
}
my $ok = 0;
for (1 .. 4000) {
    my $line = <$s>;
    $ok++ if defined $line && $line =~ /^\+OK/;
}
close $s;
is($ok, 4000, 'the cache Redis took 4000 KB past its 2 MB');

my ($evicted) = redis_at($cport, 'INFO', 'stats') =~ /evicted_keys:(\d+)/;
cmp_ok($evicted // 0, '>', 0, "... evicting keys ($evicted)");

$r = signed('a3', path => '/1.2/user/locker?pageSize=1',
            token => 'at-apart', token_secret => 'ats-apart');
is($r->{status}, 200, "the user's token still works");
like($r->{body}, qr{<echo path="/user/locker">}, '... signed 3-legged upstream');

$r = Gateway::http_get($port, $read);
is($r->{status}, 200, 'catalogue reads go on');

Gateway::stop_nginx($dir);
Gateway::stop_child($_) for $state, $cache;

is(Gateway::log_count($dir, qr/\[alert\]|\[crit\]|\[emerg\]/), 0,
   'no alert, crit or emerg');

done_testing();
