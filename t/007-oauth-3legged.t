# 3-legged 7digital calls through the gateway: the token flow
# (oauth/requesttoken, oauth/accesstoken), each token's secret kept in
# Redis and bound to the partner that obtained it, and user calls verified
# with it and signed again upstream (checked by the mock with oauthlib).
# Blocks build on each other: Redis keeps what earlier blocks stored.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
Gateway::defaults();

our $Locations = <<'CONF';
    sevendigital_gateway 7digital;
    sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
    sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-7d.secret;
    sevendigital_upstream_origin http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;

    location = /1.2/oauth/requesttoken {
        sevendigital_oauth_sign 2-legged;
        sevendigital_oauth_tokens request;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location = /1.2/oauth/accesstoken {
        sevendigital_oauth_sign 3-legged;
        sevendigital_oauth_tokens access;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location /1.2/user/ {
        sevendigital_oauth_sign 3-legged;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;
    return if Gateway::same_nginx($block);
    my $config = $block->{config} ? $block->{config}[0] : '';
    $block->set_value('config', $Locations . $config);
    if (!defined $block->{http_config}) {
        $block->set_value('http_config', <<'CONF');
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
CONF
    }
});

sub acme {
    my ($id, %a) = @_;
    return Gateway::oauth_request($id, key => 'acme-key-0001',
                                  secret => 'acme-secret-0001', %a);
}

run_tests();

__DATA__

=== TEST 1: a request token: signed upstream, answered unchanged, remembered
--- request eval
[
"GET /__mock/7d/next_token?token=rt-acme-1&secret=rts-acme-1",
main::acme('t1', method => 'POST', path => '/1.2/oauth/requesttoken',
           body => 'oauth_callback=oob', type => 'body')->{request},
]
--- more_headers eval
main::acme('t1')->{headers}
--- response_body eval
[
"ok\n",
"oauth_token=rt-acme-1&oauth_token_secret=rts-acme-1&oauth_callback_confirmed=true",
]
--- no_error_log
[error]
[alert]



=== TEST 2: the access token, signed with the request token (3-legged), XML answer
--- request eval
[
"GET /__mock/7d/next_token?token=at-acme-1&secret=ats-acme-1",
main::acme('t2', method => 'POST', path => '/1.2/oauth/accesstoken',
           body => 'oauth_verifier=v-123', type => 'body',
           token => 'rt-acme-1', token_secret => 'rts-acme-1')->{request},
]
--- more_headers eval
main::acme('t2')->{headers}
--- response_body_like eval
[
qr/ok/,
qr{<oauth_access_token><oauth_token>at-acme-1</oauth_token><oauth_token_secret>ats-acme-1</oauth_token_secret></oauth_access_token>},
]
--- no_error_log
[error]
[alert]



=== TEST 3: a user call with the access token: verified, signed 3-legged upstream
--- request eval
[
main::acme('t3', path => '/1.2/user/locker?pageSize=10',
           token => 'at-acme-1', token_secret => 'ats-acme-1')->{request},
"GET /__mock/7d/last",
]
--- more_headers eval
main::acme('t3')->{headers}
--- response_body_like eval
[
qr{<echo path="/user/locker">},
qr{"query": "pageSize=10", .*oauth_consumer_key=\\"gateway-7d-consumer-key\\".*oauth_token=\\"at-acme-1\\"}s,
]
--- no_error_log
[error]
ats-acme-1
rts-acme-1



=== TEST 4: a POST user call with the token in the form body
--- request eval
main::acme('t4', method => 'POST', path => '/1.2/user/payment/card/select',
           body => 'cardId=7', type => 'body',
           token => 'at-acme-1', token_secret => 'ats-acme-1')->{request}
--- more_headers eval
main::acme('t4')->{headers}
--- response_body_like chomp
<echo path="/user/payment/card/select">
--- no_error_log
[error]



=== TEST 5: another partner presenting acme's token is refused
--- request eval
Gateway::oauth_request('t5', path => '/1.2/user/locker', key => 'globex-key-0002',
    secret => 'globex-secret-0002', token => 'at-acme-1',
    token_secret => 'ats-acme-1')->{request}
--- more_headers eval
Gateway::oauth_request('t5')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Token not recognised
--- no_error_log
[error]



=== TEST 6: a request token is not an access token
--- request eval
main::acme('t6', path => '/1.2/user/locker',
           token => 'rt-acme-1', token_secret => 'rts-acme-1')->{request}
--- more_headers eval
main::acme('t6')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Token not recognised
--- no_error_log
[error]



=== TEST 7: a token the gateway never saw: as a wrong secret
--- request eval
main::acme('t7', path => '/1.2/user/locker',
           token => 'made-up', token_secret => 'whatever')->{request}
--- more_headers eval
main::acme('t7')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Invalid signature
--- no_error_log
[error]



=== TEST 8: another partner's token without its secret: the same answer, nothing told about whose it is
--- request eval
Gateway::oauth_request('t7b', path => '/1.2/user/locker', key => 'globex-key-0002',
    secret => 'globex-secret-0002', token => 'at-acme-1',
    token_secret => 'a-guess')->{request}
--- more_headers eval
Gateway::oauth_request('t7b')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Invalid signature
--- no_error_log
[error]



=== TEST 9: the right token with a wrong token secret
--- request eval
main::acme('t8', path => '/1.2/user/locker',
           token => 'at-acme-1', token_secret => 'not-the-secret')->{request}
--- more_headers eval
main::acme('t8')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Invalid signature
--- no_error_log
[error]



=== TEST 10: user-management mode: signed without a token, with userId: 2-legged upstream
--- request eval
[
main::acme('t9', path => '/1.2/user/locker?userId=42')->{request},
"GET /__mock/7d/last",
]
--- more_headers eval
main::acme('t9')->{headers}
--- response_body_like eval
[
qr{<echo path="/user/locker">},
qr{"query": "userId=42", .*oauth_consumer_key=\\"gateway-7d-consumer-key\\"(?!.*oauth_token=)}s,
]
--- no_error_log
[error]



=== TEST 11: a user location refuses a key alone
--- request
GET /1.2/user/locker?oauth_consumer_key=acme-key-0001
--- error_code: 401
--- response_body chomp
OAuth authentication error: This resource requires a signature
--- no_error_log
[error]



=== TEST 12: the token store unavailable: 503, try again, nothing sent upstream
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:1;
--- request eval
main::acme('t11', path => '/1.2/user/locker',
           token => 'at-acme-1', token_secret => 'ats-acme-1')->{request}
--- more_headers eval
main::acme('t11')->{headers}
--- error_code: 503
--- response_body chomp
<?xml version="1.0" encoding="utf-8"?><response status="error" version="1.2"><error code="9001"><errorMessage>The token store is unavailable, try again</errorMessage></error></response>
--- no_error_log
[alert]



=== TEST 13: oauth/requestToken/authorise for user-management consumers
--- config
    location = /1.2/oauth/requestToken/authorise {
        sevendigital_oauth_sign 2-legged;
        sevendigital_require_signature on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
main::acme('t12', path => '/1.2/oauth/requestToken/authorise?username=u%40example.com&password=p&token=rt-acme-1')->{request}
--- more_headers eval
main::acme('t12')->{headers}
--- response_body_like chomp
<echo path="/oauth/requestToken/authorise">
--- no_error_log
[error]



=== TEST 14: limit_req keyed by partner counts token-signed calls too
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
    limit_req_zone $sevendigital_partner zone=partners:1m rate=1r/m;
--- config
    limit_req zone=partners;
    limit_req_status 429;
--- request eval
[
main::acme('t13a', path => '/1.2/user/locker?n=1', type => 'query',
           token => 'at-acme-1', token_secret => 'ats-acme-1')->{request},
main::acme('t13b', path => '/1.2/user/locker?n=2', type => 'query',
           token => 'at-acme-1', token_secret => 'ats-acme-1')->{request},
]
--- error_code eval
[200, 429]
--- no_error_log
[alert]
