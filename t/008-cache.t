# The catalogue cache in Redis: a hit never reaches the upstream (the
# mock counts), partners share entries, the key varies with what changes
# the answer and nothing else, what must never be cached is not, and a
# Redis that is gone only turns caching off.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
Gateway::defaults();

our $Location = <<'CONF';
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_cache on;
        sevendigital_cache_valid 200 5m;
        sevendigital_cache_max_size 2m;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://sevendigital;
    }

    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        sevendigital_cache on;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://choosedigital;
    }
CONF

Gateway::prepend_config($Location, <<'CONF');
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_endpoint test/* catalogue;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
    upstream sevendigital {
        server 127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
    upstream choosedigital {
        server 127.0.0.1:$TEST_NGINX_MOCK_CD_PORT;
    }
CONF

# a fresh cache for each file run
Gateway::redis('FLUSHDB');

sub big {
    my $size = shift;
    my $head = '<response status="ok" version="1.2"><pad>';
    my $tail = '</pad></response>';
    return $head . join('', map { chr(ord('a') + $_ % 26) }
                            0 .. $size - length($head) - length($tail) - 1)
           . $tail;
}

# Plants a fresh entry for release $id, as another node would have stored
# it; returns a request that reads it through the plain /1.2/ location.
sub planted {
    my ($id, $body, $prefix) = @_;
    Gateway::plant_entry(
        Gateway::cache_key('7digital', '/1.2/release/details', 'xml',
                           releaseId => $id),
        type => 'application/xml; charset=utf-8', fresh => 300, stale => 300,
        stored => -5, body => $body);
    return "GET " . ($prefix // '')
           . "/1.2/release/details?releaseId=$id&oauth_consumer_key=acme-key-0001";
}

run_tests();

__DATA__

=== TEST 1: a miss, then a hit that never reaches the upstream, with Age
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001",
"GET /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001",
"GET /__mock/7d/count?path=/1.2/release/details",
]
--- response_headers eval
["", "X-Cache-Status: MISS\n!Age", "X-Cache-Status: HIT\nContent-Type: application/xml; charset=utf-8", ""]
--- response_headers_like eval
["", "", "Age: \\d+", ""]
--- response_body_like eval
[qr/ok/, qr{<release id="12345">}, qr{^<\?xml .*<release id="12345"><title>Night Drive</title>.*</response>$}, qr/^1$/]
--- no_error_log
[error]
[alert]



=== TEST 2: another partner asking the same question shares the entry
--- request eval
[
"GET /1.2/release/details?releaseId=12345&oauth_consumer_key=globex-key-0002",
"GET /__mock/7d/count?path=/1.2/release/details",
]
--- response_headers eval
["X-Cache-Status: HIT", ""]
--- response_body_like eval
[qr{<release id="12345">}, qr/^1$/]
--- no_error_log
[error]



=== TEST 3: parameter order and encoding do not matter; the format does
--- request eval
[
"GET /1.2/release/search?q=night+drive&country=GB&oauth_consumer_key=acme-key-0001",
"GET /1.2/release/search?oauth_consumer_key=hooli%2Fkey%2B0005%3D&country=GB&q=night%20drive",
"GET /1.2/release/search?q=night+drive&country=GB&oauth_consumer_key=acme-key-0001",
"GET /1.2/release/search?q=night+drive&country=US&oauth_consumer_key=acme-key-0001",
]
--- more_headers eval
""
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: HIT", "X-Cache-Status: HIT", "X-Cache-Status: MISS"]
--- no_error_log
[error]



=== TEST 4: JSON and XML answers are separate entries
--- request eval
[
"GET /1.2/artist/details?artistId=1&oauth_consumer_key=acme-key-0001",
"GET /1.2/artist/details?artistId=1&oauth_consumer_key=acme-key-0001",
]
--- more_headers
Accept: application/json
--- response_headers eval
["X-Cache-Status: MISS\nContent-Type: application/json; charset=utf-8", "X-Cache-Status: HIT\nContent-Type: application/json; charset=utf-8"]
--- response_body_like eval
[qr/^\{"status": "ok"/, qr/^\{"status": "ok"/]
--- no_error_log
[error]



=== TEST 5: a refused partner is never served from the cache
--- request
GET /1.2/release/details?releaseId=12345&oauth_consumer_key=initech-key-0003
--- error_code: 401
--- response_headers
!X-Cache-Status
--- no_error_log
[error]



=== TEST 6: user-scoped and basket calls are never cached, even if configured
--- request eval
[
"GET /1.2/user/locker?userId=1&oauth_consumer_key=acme-key-0001",
"GET /1.2/basket/create?oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["X-Cache-Status: BYPASS", "X-Cache-Status: BYPASS"]
--- no_error_log
[error]



=== TEST 7: POST is never cached
--- request
POST /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001
x=1
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- response_headers
X-Cache-Status: BYPASS
--- no_error_log
[error]



=== TEST 8: no-store, private and Set-Cookie answers are not stored
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/test/nostore?oauth_consumer_key=acme-key-0001",
"GET /1.2/test/nostore?oauth_consumer_key=acme-key-0001",
"GET /1.2/test/private?oauth_consumer_key=acme-key-0001",
"GET /1.2/test/private?oauth_consumer_key=acme-key-0001",
"GET /1.2/test/cookie?oauth_consumer_key=acme-key-0001",
"GET /1.2/test/cookie?oauth_consumer_key=acme-key-0001",
"GET /__mock/7d/counts",
]
--- response_headers eval
["", "X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: MISS", ""]
--- response_body_like eval
[qr/ok/, qr/test/, qr/test/, qr/test/, qr/test/, qr/test/, qr/test/,
 qr{^\{"/1.2/test/cookie": 2, "/1.2/test/nostore": 2, "/1.2/test/private": 2\}$}]
--- no_error_log
[error]



=== TEST 9: max-age=0 from the upstream means not stored
--- request eval
[
"GET /1.2/test/maxage?s=0&oauth_consumer_key=acme-key-0001",
"GET /1.2/test/maxage?s=0&oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: MISS"]
--- no_error_log
[error]



=== TEST 10: a 20 KB answer (more than hiredis reads at once) round-trips intact
--- request eval
[
"GET /1.2/test/big?size=20480&oauth_consumer_key=acme-key-0001",
"GET /1.2/test/big?size=20480&oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: HIT"]
--- response_body eval
[main::big(20480), main::big(20480)]
--- no_error_log
[error]



=== TEST 11: a 1 MB answer round-trips intact
--- request eval
[
"GET /1.2/test/big?size=1048576&oauth_consumer_key=acme-key-0001",
"GET /1.2/test/big?size=1048576&oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: HIT"]
--- response_body eval
[main::big(1048576), main::big(1048576)]
--- timeout: 10
--- no_error_log
[error]



=== TEST 12: larger than sevendigital_cache_max_size: served, not stored
--- request eval
[
"GET /1.2/test/big?size=3000000&oauth_consumer_key=acme-key-0001",
"GET /1.2/test/big?size=3000000&oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: MISS"]
--- timeout: 10
--- no_error_log
[error]



=== TEST 13: Choose Digital: tenantId is part of the key, the partner is not
--- request eval
[
"GET /music/search?term=midnight&country=us&tenantId=t1",
"GET /music/search?country=us&term=midnight&tenantId=t1",
"GET /music/search?term=midnight&country=us&tenantId=t2",
]
--- more_headers
cdaccesskeyid: umbrella-key-0004
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: HIT", "X-Cache-Status: MISS"]
--- response_body_like eval
[qr/"numFound": 1/, qr/"numFound": 1/, qr/"numFound": 1/]
--- no_error_log
[error]



=== TEST 14: Redis unavailable: BYPASS, and the answer still arrives
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_endpoint test/* catalogue;
    sevendigital_redis 127.0.0.1:1;
    upstream sevendigital {
        server 127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
    upstream choosedigital {
        server 127.0.0.1:$TEST_NGINX_MOCK_CD_PORT;
    }
--- request
GET /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001
--- response_headers
X-Cache-Status: BYPASS
--- response_body_like chomp
<release id="12345">
--- error_log
sevendigital: redis unavailable
--- no_error_log
[alert]



=== TEST 15: ... and so do the next requests, while Redis stays away
--- same_nginx
--- request eval
[
"GET /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001",
"GET /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["X-Cache-Status: BYPASS", "X-Cache-Status: BYPASS"]
--- response_body_like eval
[qr{<release id="12345">}, qr{<release id="12345">}]
--- no_error_log
[alert]



=== TEST 16: a HEAD hit sends the headers only
--- request
HEAD /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001
--- response_headers
X-Cache-Status: HIT
Content-Length: 469
--- response_body
--- no_error_log
[error]



=== TEST 17: a HEAD miss stores nothing (an answer without its body is no entry)
--- request eval
[
"HEAD /1.2/test/nolength?oauth_consumer_key=acme-key-0001",
"GET /1.2/test/nolength?oauth_consumer_key=acme-key-0001",
"GET /1.2/test/nolength?oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: MISS", "X-Cache-Status: HIT"]
--- response_body eval
["", '<response status="ok" version="1.2"><test/></response>', '<response status="ok" version="1.2"><test/></response>']
--- no_error_log
[error]



=== TEST 18: an answer of unknown length, larger than the first capture buffer, is stored whole
--- request eval
[
"GET /1.2/test/nolength?size=100000&oauth_consumer_key=acme-key-0001",
"GET /1.2/test/nolength?size=100000&oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: HIT\nContent-Length: 100000"]
--- response_body eval
[main::big(100000), main::big(100000)]
--- no_error_log
[error]



=== TEST 19: an entry keeps the headers that describe the answer, and no others
--- request eval
[
"GET /1.2/test/validators?oauth_consumer_key=acme-key-0001",
"GET /1.2/test/validators?oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["X-Cache-Status: MISS\nX-Mock-Trace: not for the cache",
 "X-Cache-Status: HIT\nLast-Modified: Mon, 23 Nov 2026 10:15:30 GMT\nETag: \"v-42\"\nContent-Language: en-GB\nCache-Control: public, max-age=600\nContent-Type: application/xml; charset=utf-8\n!X-Mock-Trace\n!X-Mock-Path"]
--- no_error_log
[error]



=== TEST 20: deny: a cached resource is refused like an uncached one
--- config
    location /deny/ {
        rewrite ^/deny(/.*)$ $1 break;
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_cache on;
        deny all;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://sevendigital;
    }
--- request eval
[
main::planted('acl-1', '<planted acl="1"/>'),
"GET /deny/1.2/release/details?releaseId=acl-1&oauth_consumer_key=acme-key-0001",
"GET /deny/1.2/release/details?releaseId=acl-none&oauth_consumer_key=acme-key-0001",
]
--- error_code eval
[200, 403, 403]
--- response_body_like eval
[qr{^<planted acl="1"/>$}, qr{403 Forbidden}, qr{403 Forbidden}]
--- no_error_log
[alert]



=== TEST 21: auth_request refusing: a cached resource is refused too
--- config
    location = /refuse {
        internal;
        return 403;
    }
    location /sso/ {
        rewrite ^/sso(/.*)$ $1 break;
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_cache on;
        auth_request /refuse;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://sevendigital;
    }
--- request eval
[
main::planted('acl-2', '<planted acl="2"/>'),
"GET /sso/1.2/release/details?releaseId=acl-2&oauth_consumer_key=acme-key-0001",
"GET /sso/1.2/release/details?releaseId=acl-none&oauth_consumer_key=acme-key-0001",
]
--- error_code eval
[200, 403, 403]
--- response_body_like eval
[qr{^<planted acl="2"/>$}, qr{403 Forbidden}, qr{403 Forbidden}]
--- no_error_log
[alert]



=== TEST 22: satisfy any: a valid partner grants nothing, the location's rules decide, hit or not
--- config
    location /any/ {
        rewrite ^/any(/.*)$ $1 break;
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_cache on;
        satisfy any;
        allow 127.0.0.2;
        deny all;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://sevendigital;
    }
--- request eval
[
main::planted('acl-3', '<planted acl="3"/>'),
"GET /any/1.2/release/details?releaseId=acl-3&oauth_consumer_key=acme-key-0001",
"GET /any/1.2/release/details?releaseId=acl-none&oauth_consumer_key=acme-key-0001",
]
--- error_code eval
[200, 403, 403]
--- response_body_like eval
[qr{^<planted acl="3"/>$}, qr{403 Forbidden}, qr{403 Forbidden}]
--- no_error_log
[alert]



=== TEST 23: satisfy any: one rule allows, the other refuses: the hit is sent
--- config
    location = /refuse {
        internal;
        return 403;
    }
    location /any/ {
        rewrite ^/any(/.*)$ $1 break;
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_cache on;
        satisfy any;
        allow 127.0.0.1;
        deny all;
        auth_request /refuse;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://sevendigital;
    }
--- request eval
main::planted('acl-4', '<planted acl="4"/>', '/any')
--- response_headers
X-Cache-Status: HIT
--- response_body: <planted acl="4"/>
--- no_error_log
[alert]



=== TEST 24: error_page to a named location: its answer is not stored under the original key
--- config
    location /fb/ {
        rewrite ^/fb(/.*)$ $1 break;
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_cache on;
        sevendigital_cache_valid 200 404 5m;
        proxy_intercept_errors on;
        error_page 404 = @fallback;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://sevendigital;
    }
    location @fallback {
        # as a server-wide sevendigital_gateway would give it
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        rewrite ^ /__mock/ping break;
        proxy_pass http://sevendigital;
    }
--- request eval
[
"GET /__mock/7d/fail?path=/1.2/release/details&status=404",
"GET /fb/1.2/release/details?releaseId=fb-1&oauth_consumer_key=acme-key-0001",
"GET /fb/1.2/release/details?releaseId=fb-1&oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["", "", "X-Cache-Status: MISS"]
--- response_body_like eval
[qr{^ok$}, qr{^pong}, qr{<release id="12345">}]
--- no_error_log
[alert]



=== TEST 25: auth_request allowing, its subrequest reading the gateway's variables: the hit is still sent
--- config
    location = /allow {
        internal;
        # as a server-wide sevendigital_gateway would give it
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        set $who $sevendigital_partner;
        return 204;
    }
    location /sso/ {
        rewrite ^/sso(/.*)$ $1 break;
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_cache on;
        auth_request /allow;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://sevendigital;
    }
--- request eval
main::planted('acl-5', '<planted acl="5"/>', '/sso')
--- response_headers
X-Cache-Status: HIT
--- response_body: <planted acl="5"/>
--- no_error_log
[alert]
