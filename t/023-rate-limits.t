# Rate limits per partner, counted in Redis with GCRA (WIP, #12).

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
Gateway::defaults();

Gateway::redis('FLUSHDB');

run_tests();

__DATA__

=== TEST 1: a burst of 2 at one a minute: three pass, the fourth gets 429 in 7digital's format with Retry-After
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
    sevendigital_audit_log off;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_rate_limit catalogue rate=1r/m burst=2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[("GET /1.2/release/details?releaseId=1&oauth_consumer_key=acme-key-0001") x 4,
 "GET /1.2/release/details?releaseId=1&oauth_consumer_key=globex-key-0002"]
--- error_code eval
[200, 200, 200, 429, 200]
--- response_headers eval
["", "", "", "Retry-After: 60", ""]
--- response_body_like eval
[qr/./, qr/./, qr/./,
 qr{^<\?xml version="1.0" encoding="utf-8"\?><response status="error" version="1.2"><error code="7001"><errorMessage>Rate limit exceeded, retry later</errorMessage></error></response>$},
 qr/./]
--- response_headers_like eval
["", "", "",
 "RateLimit-Policy: \"catalogue\";q=3;w=180\nRateLimit: \"catalogue\";r=0;t=180",
 ""]



=== TEST 2: the partner's own limit from the partners file comes first; a partner without one has the location's
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners-limits.json;
    sevendigital_audit_log off;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_rate_limit catalogue rate=1r/m burst=2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[("GET /1.2/release/details?releaseId=1&oauth_consumer_key=acme-key-0001") x 2,
 ("GET /1.2/release/details?releaseId=1&oauth_consumer_key=globex-key-0002") x 4]
--- error_code eval
[200, 429, 200, 200, 200, 429]
--- response_headers_like eval
["", "RateLimit-Policy: \"catalogue\";q=1;w=60", "", "", "",
 "RateLimit-Policy: \"catalogue\";q=3;w=180"]



=== TEST 3: Choose Digital: 429 in its errors[] format, with Retry-After
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners-limits.json;
    sevendigital_audit_log off;
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_CD_PORT;
    }
--- more_headers
cdaccesskeyid: umbrella-key-0004
Accept: application/json
--- request eval
[("GET /music/search?term=x&country=us") x 3]
--- error_code eval
[200, 200, 429]
--- response_headers_like eval
["", "", "Retry-After: 3600\nRateLimit-Policy: \"catalogue\";q=2;w=7200"]
--- response_body_like eval
[qr/./, qr/./, qr/^\{"errors":\[\{"parameter":"rate","message":"Rate limit exceeded, retry later"\}\]\}$/]



=== TEST 4: sevendigital_rate_limit_headers always: allowed answers say what is left
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_audit_log off;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_rate_limit catalogue rate=1r/m burst=4;
        sevendigital_rate_limit_headers always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[("GET /1.2/release/details?releaseId=1&oauth_consumer_key=acme-key-0001") x 2]
--- error_code eval
[200, 200]
--- response_headers eval
["RateLimit-Policy: \"catalogue\";q=5;w=300\nRateLimit: \"catalogue\";r=4;t=60",
 "RateLimit-Policy: \"catalogue\";q=5;w=300\nRateLimit: \"catalogue\";r=3;t=120"]



=== TEST 5: sevendigital_rate_limit_headers off: only Retry-After on a refusal
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_audit_log off;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_rate_limit catalogue rate=1r/m;
        sevendigital_rate_limit_headers off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[("GET /1.2/release/details?releaseId=1&oauth_consumer_key=globex-key-0002") x 2]
--- error_code eval
[200, 429]
--- response_headers eval
["RateLimit:", "Retry-After: 60\nRateLimit-Policy:\nRateLimit:"]



=== TEST 6: guessing keys from one address is slowed down; a valid key from that address is not
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_audit_log off;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_rate_limit_refused rate=1r/m burst=3;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[(map { "GET /1.2/release/details?releaseId=1&oauth_consumer_key=guess-$_" } 1 .. 5),
 "GET /1.2/release/details?releaseId=1",
 "GET /1.2/release/details?releaseId=1&oauth_consumer_key=acme-key-0001",
 "GET /1.2/release/details?releaseId=1&oauth_consumer_key=guess-6"]
--- error_code eval
[401, 401, 401, 401, 429, 429, 200, 429]
--- response_headers_like eval
["", "", "", "", "Retry-After: 60\nRateLimit-Policy: \"refused\";q=4;w=240", "", "", ""]
--- response_body_like eval
[(qr/Invalid consumer key/) x 4,
 (qr{<error code="7001"><errorMessage>Rate limit exceeded, retry later</errorMessage>}) x 2,
 qr/./,
 qr{<error code="7001">}]



=== TEST 7: guessing Choose Digital keys: 429 in errors[]
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_audit_log off;
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        sevendigital_rate_limit_refused rate=1r/h burst=1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_CD_PORT;
    }
--- more_headers
cdaccesskeyid: no-such-key
Accept: application/json
--- request eval
[("GET /music/search?term=x&country=us") x 3]
--- error_code eval
[401, 401, 429]
--- response_body_like eval
[qr/Invalid access key id/, qr/Invalid access key id/, qr/^\{"errors":\[\{"parameter":"rate",/]



=== TEST 8: sevendigital_rate_limit_refused off: every guess gets its 401
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_audit_log off;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_rate_limit_refused off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[map { "GET /1.2/release/details?releaseId=1&oauth_consumer_key=guess-$_" } 1 .. 15]
--- error_code eval
[(401) x 15]



=== TEST 9: without Redis the limit is counted on the node (one node by default)
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_audit_log off;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_rate_limit catalogue rate=1r/m burst=1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[("GET /1.2/release/details?releaseId=1&oauth_consumer_key=acme-key-0001") x 3]
--- error_code eval
[200, 200, 429]
--- response_headers_like eval
["", "", "Retry-After: 60\nRateLimit-Policy: \"catalogue\";q=2;w=120"]
--- no_error_log
redis cannot count



=== TEST 10: Redis unreachable: each node allows its share of the limit (nodes=2: burst 3 becomes 1, one a minute becomes one per two), logged
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:1;
    sevendigital_rate_limit_zone limits:1m nodes=2;
    sevendigital_audit_log off;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_rate_limit catalogue rate=1r/m burst=3;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[("GET /1.2/release/details?releaseId=1&oauth_consumer_key=acme-key-0001") x 3]
--- error_code eval
[200, 200, 429]
--- response_headers_like eval
["", "", "Retry-After: 120\nRateLimit-Policy: \"catalogue\";q=2;w=240"]



=== TEST 11: ... which is logged once for the incident
--- same_nginx
--- request
GET /1.2/release/details?releaseId=1&oauth_consumer_key=globex-key-0002
--- error_code: 200
--- error_log eval
qr/redis cannot count rate limits \((?:not reachable|no answer)\), this node allows 1\/2 of each limit until it can/



=== TEST 12: stock limit_req keeps working on $sevendigital_partner
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_audit_log off;
    limit_req_zone $sevendigital_partner zone=partners:1m rate=1r/m;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        limit_req zone=partners burst=1 nodelay;
        limit_req_status 429;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[("GET /1.2/release/details?releaseId=1&oauth_consumer_key=acme-key-0001") x 3,
 "GET /1.2/release/details?releaseId=1&oauth_consumer_key=globex-key-0002"]
--- error_code eval
[200, 200, 429, 200]



=== TEST 13: a replay this node saw is refused as one, and not counted
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
    sevendigital_audit_log off;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_rate_limit catalogue rate=1r/m burst=1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
my @r = Gateway::oauth_requests(
    map { { path => '/1.2/release/details?releaseId=1',
            key => 'hooli/key+0005=', secret => 'hooli-secret-0005' } }
    1 .. 3);
[$r[0], $r[0], $r[0], $r[1], $r[2]]
--- error_code eval
[200, 401, 401, 200, 429]
