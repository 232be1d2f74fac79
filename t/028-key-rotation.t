# Key rotation: a partner may hold several keys (each with its own secret,
# or the partner's, and an optional not_after), all one partner: the same
# $sevendigital_partner, the same user tokens (bound to the partner, not
# the key), the same rate limit.  A key past its not_after is refused.
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
    add_header X-Partner $sevendigital_partner always;
    add_header X-Auth $sevendigital_auth_status always;

    location /1.2/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;
    return if Gateway::same_nginx($block);
    my $config = $block->{config} ? $block->{config}[0] : '';
    $block->set_value('config', $Locations . $config);
    $block->set_value('http_config', <<'CONF');
    sevendigital_partners $TEST_NGINX_FIXTURES/partners-rotation.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
    sevendigital_audit_log off;
CONF
});

sub signed {
    my ($id, $key, $secret, %a) = @_;
    return Gateway::oauth_request($id, key => $key, secret => $secret, %a);
}

# earlier runs' counts and tokens
Gateway::redis('DEL', 'sevendigital:rl:catalogue:acme');

run_tests();

__DATA__

=== TEST 1: every current key is the same partner; a key past its not_after is refused
--- request eval
[map { "GET /1.2/artist/details?artistId=1&oauth_consumer_key=$_" }
 qw(acme-key-0001 acme-key-next acme-key-retiring acme-key-retired)]
--- error_code eval
[200, 200, 200, 401]
--- response_headers eval
["X-Partner: acme\nX-Auth: OK", "X-Partner: acme\nX-Auth: OK",
 "X-Partner: acme\nX-Auth: OK", "X-Partner: \nX-Auth: EXPIRED"]
--- response_body_like eval
[qr/./, qr/./, qr/./,
 qr{<error code="7002"><errorMessage>Consumer key has expired</errorMessage></error>}]



=== TEST 2: ... and has one rate limit, whichever key it sends (burst 2: the three above were counted)
--- request
GET /1.2/artist/details?artistId=1&oauth_consumer_key=acme-key-next
--- error_code: 429



=== TEST 3: each key verifies with its own secret, or the partner's
--- config
    location /signed/ {
        rewrite ^/signed(/.*)$ $1 break;
        sevendigital_require_signature on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[
main::signed('r3a', 'acme-key-next', 'acme-secret-next', type => 'query',
             path => '/signed/1.2/user/details?userId=1')->{request},
main::signed('r3b', 'acme-key-retiring', 'acme-secret-0001',
             type => 'query',
             path => '/signed/1.2/user/details?userId=1')->{request},
main::signed('r3c', 'acme-key-next', 'acme-secret-0001', type => 'query',
             path => '/signed/1.2/user/details?userId=1')->{request},
]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Auth: OK", "X-Auth: OK", "X-Auth: BAD_SIGNATURE"]



=== TEST 4: a request token obtained with one key ...
--- request eval
[
"GET /__mock/7d/next_token?token=rt-rot-1&secret=rts-rot-1",
main::signed('t4', 'acme-key-0001', 'acme-secret-0001', method => 'POST',
             path => '/1.2/oauth/requesttoken', body => 'oauth_callback=oob',
             type => 'body')->{request},
]
--- more_headers eval
main::signed('t4')->{headers}
--- response_body eval
["ok\n",
 "oauth_token=rt-rot-1&oauth_token_secret=rts-rot-1&oauth_callback_confirmed=true"]



=== TEST 5: ... is exchanged with the partner's next key: tokens belong to the partner
--- request eval
[
"GET /__mock/7d/next_token?token=at-rot-1&secret=ats-rot-1",
main::signed('t5', 'acme-key-next', 'acme-secret-next', method => 'POST',
             path => '/1.2/oauth/accesstoken', body => 'oauth_verifier=v-1',
             type => 'body', token => 'rt-rot-1',
             token_secret => 'rts-rot-1')->{request},
]
--- more_headers eval
main::signed('t5')->{headers}
--- response_body_like eval
[qr/ok/,
 qr{<oauth_access_token><oauth_token>at-rot-1</oauth_token><oauth_token_secret>ats-rot-1</oauth_token_secret></oauth_access_token>}]



=== TEST 6: another partner presenting it is still refused
--- request eval
main::signed('t6', 'globex-key-0002', 'globex-secret-0002',
             path => '/1.2/user/locker?pageSize=1', token => 'at-rot-1',
             token_secret => 'ats-rot-1')->{request}
--- more_headers eval
main::signed('t6')->{headers}
--- error_code: 401
