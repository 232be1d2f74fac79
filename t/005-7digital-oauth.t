# 7digital OAuth 1.0: requests signed 2-legged for the upstream (verified
# by the mock with oauthlib, against the real consumer secret), and
# partners' own signatures (made by oauthlib in t/mock/oauth_client.py)
# verified by the gateway.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
Gateway::defaults();

# every block signs its upstream calls unless it brings its own config
add_block_preprocessor(sub {
    my $block = shift;
    return if Gateway::same_nginx($block);
    return if defined $block->{config}
              && $block->{config}[0] =~ /sevendigital_gateway/;
    my $config = $block->{config} ? $block->{config}[0] : '';
    $block->set_value('config', <<'CONF' . $config);
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-7d.secret;
        sevendigital_oauth_sign 2-legged;
        sevendigital_upstream_origin http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        # a path the table does not know, vouched for: a key alone is enough
        sevendigital_endpoint misc/* user;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
CONF
});

run_tests();

__DATA__

=== TEST 1: a key-only partner call is signed 2-legged in a header upstream
--- request eval
[
"GET /1.2/release/match/byId?releaseId=12345&oauth_consumer_key=acme-key-0001",
"GET /__mock/7d/last",
]
--- response_body_like eval
[
qr{^<\?xml version="1.0" encoding="utf-8"\?><response status="ok" version="1.2"><echo path="/release/match/byId">},
qr{"query": "releaseId=12345", "headers": \[.*\["Authorization", "OAuth oauth_consumer_key=\\"gateway-7d-consumer-key\\", oauth_nonce=\\"[0-9a-f]{32}\\", oauth_signature_method=\\"HMAC-SHA1\\", oauth_timestamp=\\"\d+\\", oauth_version=\\"1.0\\", oauth_signature=\\"[A-Za-z0-9%]+\\""\]}s,
]
--- no_error_log
[error]
[alert]



=== TEST 2: query placement, for URLs handed on to players
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-7d.secret;
        sevendigital_oauth_sign 2-legged;
        sevendigital_oauth_placement query;
        sevendigital_endpoint track/stream user;
        sevendigital_upstream_origin http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[
"GET /1.2/track/stream?trackId=555&country=GB&oauth_consumer_key=acme-key-0001",
"GET /__mock/7d/last",
]
--- response_body_like eval
[
qr{<echo path="/track/stream">},
qr{"query": "trackId=555&country=GB&oauth_consumer_key=gateway-7d-consumer-key&oauth_nonce=[0-9a-f]{32}&oauth_signature_method=HMAC-SHA1&oauth_timestamp=\d+&oauth_version=1.0&oauth_signature=[A-Za-z0-9%]+"},
]
--- no_error_log
[error]



=== TEST 3: a POST form body is signed and forwarded without the partner's key
(a path declared with sevendigital_endpoint: signed 2-legged, a key alone is enough)
--- request eval
[
"POST /1.2/misc/form?country=GB
voucherCode=SAVE%2010%21&oauth_consumer_key=acme-key-0001&basketId=b-1",
"GET /__mock/7d/last",
]
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- response_body_like eval
[
qr{<echo path="/misc/form">},
qr{"query": "country=GB", .*"body": "voucherCode=SAVE%2010%21&basketId=b-1", "content_length": "37"}s,
]
--- no_error_log
[error]



=== TEST 4: UTF-8, "+" and "%20", reserved characters, empty and repeated parameters
--- request eval
[
"GET /1.2/release/search?q=caf%C3%A9+%26+%C3%BCber&a=x%2By&a=x+y&e=&r=!*'()~-._&oauth_consumer_key=acme-key-0001",
"GET /__mock/7d/count?path=/1.2/release/search",
]
--- response_body_like eval
[
qr{<searchResults><page>1</page>},
qr/^[1-9]\d*$/,
]
--- no_error_log
[error]



=== TEST 5: a partner-signed request (header), verified with the partner's secret
--- request eval
Gateway::oauth_request('t5', path => '/1.2/user/details?userId=42&country=GB',
    key => 'acme-key-0001', secret => 'acme-secret-0001')->{request}
--- more_headers eval
Gateway::oauth_request('t5')->{headers}
--- response_body_like chomp
<echo path="/user/details">
--- no_error_log
[error]



=== TEST 6: signed in the query
--- request eval
Gateway::oauth_request('t6', path => '/1.2/release/match/byId?releaseId=7',
    key => 'globex-key-0002', secret => 'globex-secret-0002',
    type => 'query')->{request}
--- response_body_like chomp
<echo path="/release/match/byId">
--- no_error_log
[error]



=== TEST 7: signed in a form body
--- request eval
Gateway::oauth_request('t7', method => 'POST', path => '/1.2/user/signup',
    body => 'email=a%40example.com&password=p%20w', type => 'body',
    key => 'acme-key-0001', secret => 'acme-secret-0001')->{request}
--- more_headers eval
Gateway::oauth_request('t7')->{headers}
--- response_body_like chomp
<echo path="/user/signup">
--- no_error_log
[error]



=== TEST 8: the node client's quirk: the key in the query and the signed header
--- request eval
Gateway::oauth_request('t8', path => '/1.2/artist/match/byId?artistId=1',
    key => 'acme-key-0001', secret => 'acme-secret-0001')->{request}
    =~ s/\n$//r . "&oauth_consumer_key=acme-key-0001"
--- more_headers eval
Gateway::oauth_request('t8')->{headers}
--- response_body_like chomp
<echo path="/artist/match/byId">
--- no_error_log
[error]



=== TEST 9: wire encoding that differs from the signing encoding
--- request eval
Gateway::oauth_request('t9', path => '/1.2/release/search?q=hello%21%28x%29',
    key => 'acme-key-0001', secret => 'acme-secret-0001')->{request}
    =~ s/%21%28x%29/!(x)/r
--- more_headers eval
Gateway::oauth_request('t9')->{headers}
--- response_body_like chomp
<searchResults><page>1</page>
--- no_error_log
[error]



=== TEST 10: signed behind another proxy: sevendigital_public_origin
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_public_origin http://localhost:$TEST_NGINX_SERVER_PORT;
        proxy_pass http://sevendigital;
    }
--- request eval
Gateway::oauth_request('t10', path => '/1.2/release/details?releaseId=12345',
    key => 'acme-key-0001', secret => 'acme-secret-0001')->{request}
--- more_headers eval
Gateway::oauth_request('t10')->{headers} =~ s/^/Host: gateway.example.com\n/r
--- response_body_like chomp
<release id="12345">
--- no_error_log
[error]



=== TEST 11: the wrong secret: an OAuth error in plain text
--- request eval
[
"GET /__mock/7d/reset",
Gateway::oauth_request('t11', path => '/1.2/user/details?userId=42',
    key => 'acme-key-0001', secret => 'globex-secret-0002')->{request},
]
--- more_headers eval
Gateway::oauth_request('t11')->{headers}
--- error_code eval
[200, 401]
--- response_body eval
["ok\n", "OAuth authentication error: Invalid signature"]
--- no_error_log
[error]



=== TEST 12: ... nothing of it reached the upstream, and the refusal is logged
--- same_nginx
--- request
GET /__mock/7d/counts
--- response_body: {}
--- error_log
sevendigital: request refused: Invalid signature
--- no_error_log
[error]



=== TEST 13: a parameter changed after signing
--- request eval
Gateway::oauth_request('t12', path => '/1.2/user/details?userId=42',
    key => 'acme-key-0001', secret => 'acme-secret-0001')->{request}
    =~ s/userId=42/userId=43/r
--- more_headers eval
Gateway::oauth_request('t12')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Invalid signature
--- no_error_log
[error]



=== TEST 14: a stale timestamp
--- request eval
Gateway::oauth_request('t13', path => '/1.2/user/details?userId=42',
    key => 'acme-key-0001', secret => 'acme-secret-0001', age => 3600)->{request}
--- more_headers eval
Gateway::oauth_request('t13')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Timestamp outside the allowed window
--- no_error_log
[error]



=== TEST 15: a signature method other than HMAC-SHA1
--- request eval
Gateway::oauth_request('t14', path => '/1.2/user/details?userId=42',
    key => 'acme-key-0001', secret => 'acme-secret-0001', plaintext => 1)->{request}
--- more_headers eval
Gateway::oauth_request('t14')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Unsupported signature method, only HMAC-SHA1 is accepted
--- no_error_log
[error]



=== TEST 16: a token the gateway does not know verifies no signature
--- request eval
Gateway::oauth_request('t15', path => '/1.2/user/locker',
    key => 'acme-key-0001', secret => 'acme-secret-0001',
    token => 'foreign-token', token_secret => 'x')->{request}
--- more_headers eval
Gateway::oauth_request('t15')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Invalid signature
--- no_error_log
[error]



=== TEST 17: a location that requires a signature refuses a key alone
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_require_signature on;
        proxy_pass http://sevendigital;
    }
--- request
GET /1.2/user/details?userId=42&oauth_consumer_key=acme-key-0001
--- error_code: 401
--- response_body chomp
OAuth authentication error: This resource requires a signature
--- no_error_log
[error]



=== TEST 18: a partner without a secret cannot sign
--- request eval
Gateway::oauth_request('t17', path => '/1.2/user/details?userId=42',
    key => 'soylent-key-0006', secret => 'anything')->{request}
--- more_headers eval
Gateway::oauth_request('t17')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: This consumer has no secret to sign with
--- no_error_log
[error]



=== TEST 19: two signatures are malformed
--- request eval
Gateway::oauth_request('t18', path => '/1.2/user/details?userId=42',
    key => 'acme-key-0001', secret => 'acme-secret-0001')->{request}
    =~ s/\n$//r . "&oauth_signature=abc"
--- more_headers eval
Gateway::oauth_request('t18')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: More than one oauth_signature
--- no_error_log
[error]



=== TEST 20: the Authorization header of a refused request never reaches the log as a secret
--- request eval
Gateway::oauth_request('t19', path => '/1.2/user/details?userId=42',
    key => 'acme-key-0001', secret => 'acme-secret-0001', age => 3600)->{request}
--- more_headers eval
Gateway::oauth_request('t19')->{headers}
--- error_code: 401
--- no_error_log
acme-secret-0001
upstream-7d-consumer-secret



=== TEST 21: half a signature (nonce, timestamp, method, no signature): refused, not signed for it
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/user/details?userId=42&oauth_consumer_key=acme-key-0001&oauth_nonce=n1&oauth_timestamp=1700000000&oauth_signature_method=HMAC-SHA1",
"GET /1.2/user/details?userId=42&oauth_consumer_key=acme-key-0001&oauth_token=some-token",
]
--- error_code eval
[200, 401, 401]
--- response_body eval
["ok\n", "OAuth authentication error: Missing oauth_signature",
 "OAuth authentication error: Missing oauth_signature"]
--- no_error_log
[error]



=== TEST 22: ... nothing of them reached the upstream
--- same_nginx
--- request
GET /__mock/7d/counts
--- response_body: {}
--- no_error_log
[error]
