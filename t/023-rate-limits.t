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
