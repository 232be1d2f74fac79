# Purge: one resource (its entries in every format are deleted), or every
# entry under a prefix, optionally narrowed by country, shopId or
# tenantId (one generation incremented, whatever the number of entries).
# The mock's counters show what went upstream again and what did not.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;
use Digest::SHA qw(sha256);

plan 'no_plan';
no_shuffle();
Gateway::defaults();

our $Location = <<'CONF';
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_cache on;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        sevendigital_cache on;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_CD_PORT;
    }

    location ~ ^/purge/7digital(/.*)$ {
        allow 127.0.0.1;
        deny all;
        sevendigital_cache_purge 7digital $1;
    }

    location ~ ^/purge/choosedigital(/.*)$ {
        allow 127.0.0.1;
        deny all;
        sevendigital_cache_purge choosedigital $1;
    }

    location ~ ^/closed/purge(/.*)$ {
        allow 192.0.2.1;
        deny all;
        sevendigital_cache_purge 7digital $1;
    }
CONF

Gateway::prepend_config($Location, <<'CONF');
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
CONF

Gateway::redis('FLUSHDB');

our $K = 'oauth_consumer_key=acme-key-0001';

# What another node's purge leaves: the scope's generation, incremented.
sub purge_in_redis {
    my $scope = shift;
    return Gateway::redis('INCR', "sevendigital:gen:7digital:$scope");
}

# The generation digest of an entry whose scopes have these values (undef
# for never purged), computed here rather than by the module.
sub generation {
    my $bytes = join('', map { ($_ // '') . "\n" } @_);
    return unpack('Q>', substr(sha256($bytes), 0, 8));
}

run_tests();

__DATA__

=== TEST 1: another node's purge, and entries it stored, as Redis holds them
# the scopes of /1.2/track/details?trackId=p0: root, /1.2, /1.2/track,
# /1.2/track/details.  First in the file: whether the harness evaluates
# this before all the blocks or just before this one, nothing was purged
# yet but what it purges itself.
--- request eval
my $key = Gateway::cache_key('7digital', '/1.2/track/details', 'xml', trackId => 'p0');
my $g = main::purge_in_redis('/1.2/track');
Gateway::plant_entry($key, type => 'application/xml', fresh => 300,
    stale => 0, body => '<current/>',
    generation => main::generation(undef, undef, $g, undef));
my $old = Gateway::cache_key('7digital', '/1.2/track/details', 'xml', trackId => 'p0-old');
Gateway::plant_entry($old, type => 'application/xml', fresh => 300,
    stale => 0, body => '<before-the-purge/>', generation => 0);
[
"GET /1.2/track/details?trackId=p0&$main::K",
"GET /1.2/track/details?trackId=p0-old&$main::K",
]
--- response_headers eval
["X-Cache-Status: HIT", "X-Cache-Status: MISS"]
--- response_body_like eval
[qr{^<current/>$}, qr/track|echo/]
--- no_error_log
[error]



=== TEST 2: one resource: both formats cached, purged, fetched again
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/release/details?releaseId=p1&$main::K",
"GET /1.2/release/details?releaseId=p1&$main::K",
"PURGE /purge/7digital/1.2/release/details?releaseId=p1",
"GET /1.2/release/details?releaseId=p1&$main::K",
"GET /1.2/release/details?releaseId=p1&$main::K",
"GET /__mock/7d/count?path=/1.2/release/details",
]
--- response_headers eval
["", "X-Cache-Status: MISS", "X-Cache-Status: HIT", "Content-Type: application/json", "X-Cache-Status: MISS", "X-Cache-Status: HIT", ""]
--- response_body_like eval
[qr/ok/, qr/release/, qr/release/, qr/^\{"purged":"key","deleted":1\}$/, qr/release/, qr/release/, qr/^2$/]
--- no_error_log
[error]
[alert]



=== TEST 3: the JSON entry goes with the XML one (1/2): a JSON answer cached
--- request eval
"GET /1.2/release/details?country=GB&releaseId=p2&oauth_consumer_key=globex-key-0002"
--- more_headers
Accept: application/json
--- response_headers
X-Cache-Status: MISS
--- response_body_like: "release"
--- no_error_log
[error]



=== TEST 4: (2/2) the XML one, then both purged; credentials and order do not matter
--- request eval
[
"GET /1.2/release/details?releaseId=p2&country=GB&$main::K",
"PURGE /purge/7digital/1.2/release/details?country=GB&releaseId=p2&oauth_consumer_key=whatever",
]
--- response_headers eval
["X-Cache-Status: MISS", ""]
--- response_body_like eval
[qr/release/, qr/^\{"purged":"key","deleted":2\}$/]
--- no_error_log
[error]



=== TEST 5: a resource that is not cached: 404, in JSON; DELETE works as PURGE
--- request
DELETE /purge/7digital/1.2/release/details?releaseId=never
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body chomp
{"purged":"key","deleted":0}
--- no_error_log
[error]



=== TEST 6: a prefix: every entry under it, nothing beside it
--- request eval
[
"GET /1.2/release/details?releaseId=p4&$main::K",
"GET /1.2/release/search?q=p4&$main::K",
"GET /1.2/artist/details?artistId=p4&$main::K",
"PURGE /purge/7digital/1.2/release/*",
"GET /1.2/release/details?releaseId=p4&$main::K",
"GET /1.2/release/search?q=p4&$main::K",
"GET /1.2/artist/details?artistId=p4&$main::K",
"GET /1.2/release/details?releaseId=p4&$main::K",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: MISS", "", "X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: HIT", "X-Cache-Status: HIT"]
--- response_body_like eval
[qr/./, qr/./, qr/./, qr/^\{"purged":"prefix","generation":1\}$/, qr/./, qr/./, qr/./, qr/./]
--- no_error_log
[error]



=== TEST 7: a prefix narrowed by country: only that country's entries
--- request eval
[
"GET /1.2/release/search?q=p5&country=GB&$main::K",
"GET /1.2/release/search?q=p5&country=US&$main::K",
"GET /1.2/release/search?q=p5&$main::K",
"GET /1.2/artist/search?q=p5&country=GB&$main::K",
"PURGE /purge/7digital/1.2/release/*?country=GB",
"GET /1.2/release/search?q=p5&country=GB&$main::K",
"GET /1.2/release/search?q=p5&country=US&$main::K",
"GET /1.2/release/search?q=p5&$main::K",
"GET /1.2/artist/search?q=p5&country=GB&$main::K",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: MISS", "", "X-Cache-Status: MISS", "X-Cache-Status: HIT", "X-Cache-Status: HIT", "X-Cache-Status: HIT"]
--- response_body_like eval
[qr/./, qr/./, qr/./, qr/./, qr/^\{"purged":"prefix","generation":1\}$/, qr/./, qr/./, qr/./, qr/./]
--- no_error_log
[error]



=== TEST 8: the whole API, for one country
--- request eval
[
"GET /1.2/artist/search?q=p6&country=US&$main::K",
"GET /1.2/track/chart?country=US&$main::K",
"GET /1.2/track/chart?country=FR&$main::K",
"PURGE /purge/7digital/*?country=US",
"GET /1.2/artist/search?q=p6&country=US&$main::K",
"GET /1.2/track/chart?country=US&$main::K",
"GET /1.2/track/chart?country=FR&$main::K",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: MISS", "", "X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: HIT"]
--- response_body_like eval
[qr/./, qr/./, qr/./, qr/^\{"purged":"prefix","generation":1\}$/, qr/./, qr/./, qr/./]
--- no_error_log
[error]



=== TEST 9: Choose Digital, narrowed by tenantId
--- request eval
[
"GET /music/search?term=p7&country=us&tenantId=t1",
"GET /music/search?term=p7&country=us&tenantId=t2",
"PURGE /purge/choosedigital/music/*?tenantId=t1",
"GET /music/search?term=p7&country=us&tenantId=t1",
"GET /music/search?term=p7&country=us&tenantId=t2",
]
--- more_headers
cdaccesskeyid: umbrella-key-0004
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: MISS", "", "X-Cache-Status: MISS", "X-Cache-Status: HIT"]
--- response_body_like eval
[qr/./, qr/./, qr/^\{"purged":"prefix","generation":1\}$/, qr/./, qr/./]
--- no_error_log
[error]



=== TEST 10: the root of an API (1/3): a Choose Digital entry
--- request
GET /music/search?term=p8&country=us
--- more_headers
cdaccesskeyid: umbrella-key-0004
--- response_headers
X-Cache-Status: MISS
--- no_error_log
[error]



=== TEST 11: (2/3) every 7digital entry is purged
--- request eval
[
"GET /1.2/release/details?releaseId=p8&$main::K",
"GET /1.2/artist/details?artistId=p8&$main::K",
"PURGE /purge/7digital/*",
"GET /1.2/release/details?releaseId=p8&$main::K",
"GET /1.2/artist/details?artistId=p8&$main::K",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: MISS", "", "X-Cache-Status: MISS", "X-Cache-Status: MISS"]
--- response_body_like eval
[qr/./, qr/./, qr/^\{"purged":"prefix","generation":1\}$/, qr/./, qr/./]
--- no_error_log
[error]



=== TEST 12: (3/3) the other API is untouched
--- request
GET /music/search?term=p8&country=us
--- more_headers
cdaccesskeyid: umbrella-key-0004
--- response_headers
X-Cache-Status: HIT
--- no_error_log
[error]



=== TEST 13: only PURGE and DELETE
--- request
GET /purge/7digital/1.2/release/details?releaseId=p1
--- error_code: 405
--- response_headers
Allow: PURGE, DELETE
Content-Type: application/json
--- response_body chomp
{"error":"use PURGE or DELETE"}
--- no_error_log
[error]



=== TEST 14: prefixes no lookup uses are refused, clearly
--- request eval
[
"PURGE /purge/7digital/1.2/rel*",
"PURGE /purge/7digital/a/b/c/d/e/*",
"PURGE /purge/7digital/1.2/*/details/*",
]
--- error_code eval
[400, 400, 400]
--- response_body eval
[
'{"error":"a prefix ends in \"/*\" after at most 4 path segments and 256 bytes"}',
'{"error":"a prefix ends in \"/*\" after at most 4 path segments and 256 bytes"}',
'{"error":"a prefix ends in \"/*\" after at most 4 path segments and 256 bytes"}',
]
--- no_error_log
[error]



=== TEST 15: a prefix is narrowed by one scope parameter, no other
--- request eval
[
"PURGE /purge/7digital/1.2/*?q=x",
"PURGE /purge/7digital/1.2/*?country=GB&shopId=2",
"PURGE /purge/7digital/1.2/*?country=",
"PURGE /purge/7digital/1.2/*?country=%zz",
]
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
[
'{"error":"a prefix is narrowed by \"country\", \"shopId\" or \"tenantId\" only"}',
'{"error":"a prefix is narrowed by one parameter at most"}',
'{"error":"the parameter\'s value is empty or longer than 128 bytes"}',
'{"error":"the query string is malformed"}',
]
--- no_error_log
[error]



=== TEST 16: the operator's protection applies
--- request
PURGE /closed/purge/1.2/*
--- error_code: 403
--- no_error_log
[alert]



=== TEST 17: Redis unavailable: 503, in JSON
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:1;
--- request
PURGE /purge/7digital/1.2/*
--- error_code: 503
--- response_body: {"error":"the cache store is unavailable"}
--- error_log
redis unavailable
--- no_error_log
[alert]
