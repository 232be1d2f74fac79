# Partner keys on 7digital locations: every place 7digital clients put the
# consumer key, the errors for a missing, unknown or disabled key, and what
# the upstream receives instead (checked by the mock 7digital upstream,
# which refuses any request carrying a partner credential).

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
Gateway::defaults();
run_tests();

__DATA__

=== TEST 1: key in the query; the upstream gets the real key and only that
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request eval
[
"GET /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001&imageSize=33",
"GET /__mock/7d/last",
]
--- response_body_like eval
[
qr{^<\?xml version="1.0" encoding="utf-8"\?><response status="ok" version="1.2"><release id="12345"><title>Night Drive</title>},
qr{"query": "releaseId=12345&imageSize=33&oauth_consumer_key=gateway-7d-consumer-key"},
]
--- no_error_log
[error]
[alert]



=== TEST 2: JSON when the client asks for it, as 7digital does
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001
--- more_headers
Accept: application/json
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body_like chomp
^\{"status": "ok", "version": "1.2", "release": \{"id": "12345"
--- no_error_log
[error]



=== TEST 3: key in an OAuth Authorization header; the header never reaches the upstream
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request eval
[
"GET /1.2/artist/details?artistId=1",
"GET /__mock/7d/last",
]
--- more_headers
Authorization: OAuth realm="7digital", oauth_consumer_key="globex-key-0002"
--- response_body_like eval
[
qr{<artist id="1"><name>The Midnight</name>},
qr{^(?!.*Authorization).*"query": "artistId=1&oauth_consumer_key=gateway-7d-consumer-key"}s,
]
--- no_error_log
[error]



=== TEST 4: the .NET wrapper's bare "Authorization: oauth_consumer_key=KEY"
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/track/chart?country=GB
--- more_headers
Authorization: oauth_consumer_key=globex-key-0002
--- response_body_like chomp
<chart><type>track</type>
--- no_error_log
[error]



=== TEST 5: the node client's key in both the query and the header counts once
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001
--- more_headers
Authorization: OAuth oauth_consumer_key="acme-key-0001"
--- response_body_like chomp
<release id="12345">
--- no_error_log
[error]



=== TEST 6: key in a urlencoded POST body; the body is forwarded without it
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request eval
[
"POST /1.2/basket/create?country=GB
email=a%40example.com&oauth_consumer_key=acme-key-0001&note=x+y",
"GET /__mock/7d/last",
]
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- response_body_like eval
[
qr{<basket id="00000000-0000-0000-0000-000000000001">},
qr{"query": "country=GB&oauth_consumer_key=gateway-7d-consumer-key", .*"body": "email=a%40example.com&note=x\+y", "content_length": "30"},
]
--- no_error_log
[error]



=== TEST 7: a key with reserved characters, percent-encoded in the query
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/countries?oauth_consumer_key=hooli%2Fkey%2B0005%3D
--- response_body_like chomp
<countries><country code="GB">
--- no_error_log
[error]



=== TEST 8: no key at all: 401 in 7digital's XML error format, upstream untouched
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/release/details?releaseId=12345",
"GET /__mock/7d/counts",
]
--- error_code eval
[200, 401, 200]
--- response_body eval
[
"ok\n",
qq{<?xml version="1.0" encoding="utf-8"?><response status="error" version="1.2"><error code="1001"><errorMessage>Missing required parameter oauth_consumer_key</errorMessage></error></response>},
"{}",
]
--- no_error_log
[error]
[alert]



=== TEST 9: unknown key: 401, XML by default
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?releaseId=12345&oauth_consumer_key=nobody
--- error_code: 401
--- response_headers
Content-Type: application/xml; charset=utf-8
--- response_body chomp
<?xml version="1.0" encoding="utf-8"?><response status="error" version="1.2"><error code="1002"><errorMessage>Invalid consumer key</errorMessage></error></response>
--- no_error_log
[error]



=== TEST 10: unknown key: JSON for a client that prefers JSON (.NET wrapper's Accept)
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?releaseId=12345&oauth_consumer_key=nobody
--- more_headers
Accept: application/json, application/xml;q=0.5
--- error_code: 401
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body chomp
{"status":"error","version":"1.2","error":{"code":1002,"errorMessage":"Invalid consumer key"}}
--- no_error_log
[error]



=== TEST 11: XML preferred over JSON stays XML
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?oauth_consumer_key=nobody
--- more_headers
Accept: application/xml, application/json;q=0.5
--- error_code: 401
--- response_headers
Content-Type: application/xml; charset=utf-8
--- no_error_log
[error]



=== TEST 12: disabled partner: 401, code 7002
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?oauth_consumer_key=initech-key-0003
--- error_code: 401
--- response_body_like chomp
<error code="7002"><errorMessage>Consumer key is disabled</errorMessage>
--- error_log
sevendigital: request refused: Consumer key is disabled
--- no_error_log
[error]



=== TEST 13: a partner limited to Choose Digital is refused here with 403
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?oauth_consumer_key=umbrella-key-0004
--- error_code: 403
--- response_body_like chomp
<error code="7002"><errorMessage>Consumer key may not use this API</errorMessage>
--- no_error_log
[error]



=== TEST 14: two different keys in one request are refused
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?oauth_consumer_key=acme-key-0001
--- more_headers
Authorization: OAuth oauth_consumer_key="globex-key-0002"
--- error_code: 401
--- response_body_like chomp
Conflicting values of oauth_consumer_key
--- no_error_log
[error]



=== TEST 15: the same key twice in the query with another value in between is refused
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?oauth_consumer_key=acme-key-0001&oauth_consumer_key=nobody
--- error_code: 401
--- response_body_like chomp
<error code="1002">
--- no_error_log
[error]



=== TEST 16: a malformed OAuth header is an OAuth error, in plain text
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?releaseId=1
--- more_headers
Authorization: OAuth oauth_consumer_key="acme-key-0001
--- error_code: 401
--- response_headers
Content-Type: text/plain; charset=utf-8
--- response_body chomp
OAuth authentication error: Malformed Authorization header
--- no_error_log
[error]



=== TEST 17: invalid percent-encoding in the query: 400, nothing forwarded
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/search?q=%zz&oauth_consumer_key=acme-key-0001
--- error_code: 400
--- response_body_like chomp
<error code="1002"><errorMessage>the query string has invalid percent-encoding</errorMessage>
--- no_error_log
[error]



=== TEST 18: more parameters than the gateway inspects: 400
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request eval
"GET /1.2/release/search?oauth_consumer_key=acme-key-0001" . ("&p=1" x 300)
--- error_code: 400
--- response_body_like chomp
the query string has more than 256 parameters
--- no_error_log
[error]



=== TEST 19: $sevendigital_partner and $sevendigital_auth_status for logs and headers
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        add_header X-Partner $sevendigital_partner always;
        add_header X-Auth $sevendigital_auth_status always;
        proxy_pass http://sevendigital;
    }
--- request eval
[
"GET /1.2/release/details?releaseId=1&oauth_consumer_key=globex-key-0002",
"GET /1.2/release/details?releaseId=1&oauth_consumer_key=initech-key-0003",
]
--- error_code eval
[200, 401]
--- response_headers eval
[
"X-Partner: globex\nX-Auth: OK",
"!X-Partner\nX-Auth: DISABLED",
]
--- no_error_log
[error]



=== TEST 20: stock limit_req keyed by partner: one partner's burst does not limit another
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    limit_req_zone $sevendigital_partner zone=partners:1m rate=1r/m;
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        limit_req zone=partners;
        limit_req_status 429;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[
"GET /1.2/countries?oauth_consumer_key=acme-key-0001",
"GET /1.2/countries?oauth_consumer_key=acme-key-0001",
"GET /1.2/countries?oauth_consumer_key=globex-key-0002",
]
--- error_code eval
[200, 429, 200]
--- no_error_log
[alert]



=== TEST 21: an internal redirect after the checks keeps the partner
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        try_files /nonexistent @upstream;
    }
    location @upstream {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        add_header X-Partner $sevendigital_partner;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001
--- response_headers
X-Partner: acme
--- response_body_like chomp
<release id="12345">
--- no_error_log
[error]



=== TEST 22: locations without the gateway are left alone
--- config
    location /open/ {
        return 200 "args=$args\n";
    }
--- request
GET /open/x?oauth_consumer_key=whatever
--- response_body
args=oauth_consumer_key=whatever
--- no_error_log
[error]



=== TEST 23: proxy_pass with a variable host sends the rewritten query too
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        set $sevendigital_host 127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        proxy_pass http://$sevendigital_host;
    }
--- request eval
[
"GET /1.2/release/details?releaseId=12345&oauth_consumer_key=acme-key-0001&q=a%2Bb+c",
"GET /__mock/7d/last",
]
--- response_body_like eval
[
qr{<release id="12345">},
qr{"path": "/1.2/release/details", "query": "releaseId=12345&q=a%2Bb\+c&oauth_consumer_key=gateway-7d-consumer-key"},
]
--- no_error_log
[error]



=== TEST 24: a percent-encoded path is forwarded as it was sent
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request eval
[
"GET /1.2/artist/search%20x?q=1&oauth_consumer_key=acme-key-0001",
"GET /__mock/7d/last",
]
--- response_body_like eval
[
qr{<echo path="/artist/search%20x">},
qr{"path": "/1.2/artist/search%20x", "query": "q=1&oauth_consumer_key=gateway-7d-consumer-key"},
]
--- no_error_log
[error]



=== TEST 25: upstream errors pass through untouched (the mock told to fail)
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://sevendigital;
    }
--- request eval
[
"GET /__mock/7d/reset",
"GET /__mock/7d/fail?path=/1.2/release/details&status=503&times=1",
"GET /1.2/release/details?releaseId=1&oauth_consumer_key=acme-key-0001",
"GET /1.2/release/details?releaseId=1&oauth_consumer_key=acme-key-0001",
"GET /__mock/7d/count?path=/1.2/release/details",
]
--- error_code eval
[200, 200, 503, 200, 200]
--- response_body_like eval
[
qr/ok/,
qr/ok/,
qr{<error code="9001"><errorMessage>Injected failure</errorMessage>},
qr{<release id="12345">},
qr/^2$/,
]
--- no_error_log
[alert]



=== TEST 26: a form body larger than client_body_buffer_size: 413, nothing sent upstream
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        client_body_buffer_size 1k;
        proxy_pass http://sevendigital;
    }
--- request eval
[
"GET /__mock/7d/reset",
"POST /1.2/basket/create\noauth_consumer_key=acme-key-0001&note=" . ("x" x 5000),
"GET /__mock/7d/counts",
]
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- error_code eval
[200, 413, 200]
--- response_body eval
[
"ok\n",
qq{<?xml version="1.0" encoding="utf-8"?><response status="error" version="1.2"><error code="1003"><errorMessage>the form body is larger than client_body_buffer_size</errorMessage></error></response>},
"{}",
]
--- no_error_log
[error]
[alert]
