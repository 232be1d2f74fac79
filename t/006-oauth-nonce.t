# Replayed OAuth nonces: refused by this node's shared-memory cache, and
# through Redis by every node; Redis down, hanging or refusing us degrades
# to the local cache, and requests go on.

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
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-7d.secret;
        sevendigital_oauth_sign 2-legged;
        sevendigital_upstream_origin http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;
    return if Gateway::same_nginx($block);
    my $config = $block->{config} ? $block->{config}[0] : '';
    $block->set_value('config', $Location . $config);
});

sub signed {
    my ($id, %a) = @_;
    return Gateway::oauth_request($id, path => '/1.2/user/details?userId=42',
                                  key => 'acme-key-0001',
                                  secret => 'acme-secret-0001', %a);
}

run_tests();

__DATA__

=== TEST 1: a signed request passes once
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
--- request eval
main::signed('t1')->{request}
--- more_headers eval
main::signed('t1')->{headers}
--- response_body_like chomp
<echo path="/user/details">
--- no_error_log
[error]
[alert]



=== TEST 2: ... the same request again is a replay
--- same_nginx
--- request eval
main::signed('t1')->{request}
--- more_headers eval
main::signed('t1')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Nonce already used
--- error_log
sevendigital: request refused: Nonce already used
--- no_error_log
[error]
[alert]



=== TEST 3: a nonce only Redis knows (another node saw it) is refused
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
--- request eval
Gateway::plant_nonce(main::signed('t2') && 't2', 'acme')->{request}
--- more_headers eval
main::signed('t2')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Nonce already used
--- no_error_log
[error]
[alert]



=== TEST 4: what one instance records in Redis, a fresh one refuses (TEST 1's request)
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
--- request eval
main::signed('t1')->{request}
--- more_headers eval
main::signed('t1')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Nonce already used
--- no_error_log
[error]
[alert]



=== TEST 5: a fresh nonce passes while the Redis key of TEST 1 is still there
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
--- request eval
main::signed('t4')->{request}
--- more_headers eval
main::signed('t4')->{headers}
--- response_body_like chomp
<echo path="/user/details">
--- no_error_log
[error]
[alert]



=== TEST 6: Redis unreachable: requests go on
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:1;
--- request eval
main::signed('t5')->{request}
--- more_headers eval
main::signed('t5')->{headers}
--- response_body_like chomp
<echo path="/user/details">
--- error_log
sevendigital: redis unavailable
--- no_error_log
[alert]
[crit]



=== TEST 7: ... and a replay is still refused, by this node's own cache
--- same_nginx
--- request eval
main::signed('t5')->{request}
--- more_headers eval
main::signed('t5')->{headers}
--- error_code: 401
--- response_body chomp
OAuth authentication error: Nonce already used
--- error_log
sevendigital: request refused: Nonce already used
--- no_error_log
[alert]
[crit]



=== TEST 8: Redis that accepts and never answers: the request waits the timeout only
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT;
    sevendigital_redis_timeout 200ms;
--- request eval
main::signed('t6')->{request}
--- more_headers eval
main::signed('t6')->{headers}
--- timeout eval
Gateway::scaled(2)
--- response_body_like chomp
<echo path="/user/details">
--- error_log
sevendigital: redis did not answer within 200 ms
--- no_error_log
[alert]
[error]



=== TEST 9: a password Redis does not accept: logged, requests go on
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
    sevendigital_redis_password_file $TEST_NGINX_FIXTURES/redis-wrong.password;
--- request eval
main::signed('t7')->{request}
--- more_headers eval
main::signed('t7')->{headers}
--- response_body_like chomp
<echo path="/user/details">
--- error_log
sevendigital: redis refused the connection setup
--- no_error_log
[alert]
not-the-password



=== TEST 10: no Redis configured: the local cache alone refuses replays
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
--- request eval
[main::signed('t8')->{request}, main::signed('t8')->{request}]
--- more_headers eval
main::signed('t8')->{headers}
--- error_code eval
[200, 401]
--- no_error_log
[error]
[alert]
