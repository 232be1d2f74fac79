# Idempotency keys (the IETF httpapi Idempotency-Key draft): a retried sale
# gets the first answer again and never reaches the upstream twice; the
# same key for another request is 422, a key whose sale is in flight or in
# doubt is 409, and without Redis a keyed sale is refused rather than
# risked.  deliveritem's transactionId is a key of its own.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;
use Digest::SHA qw(sha256_hex);

plan 'no_plan';
no_shuffle();
Gateway::defaults();

# where the gateway keeps a partner's key: its own scheme, checked here
sub idem_key {
    my ($partner, $name) = @_;
    return 'sevendigital:idem:' . sha256_hex("$partner\n$name");
}

sub deliver {
    my ($tx, $price) = @_;
    $price //= '0.99';
    return "/1.2/user/deliveritem?userId=u-1&releaseId=12345&country=GB"
           . "&transactionId=$tx&retailPrice=$price&currency=GBP";
}

our $Purchase = "POST /music/purchase\n"
    . "cdin=CD0001&customerId=cust-1&customerCountryCode=us&priceSold=100";

add_block_preprocessor(sub {
    my $block = shift;
    return if Gateway::same_nginx($block);
    my $http = $block->{http_config} ? $block->{http_config}[0] : <<'CONF';
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
    sevendigital_idempotency_ttl 1h;
CONF
    $block->set_value('http_config', <<'CONF' . $http);
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_audit_log $TEST_NGINX_AUDIT_LOG;
    proxy_next_upstream off;
CONF
    my $unreachable = ($block->{config} // [''])->[0] =~ /unreachable/;
    my $config = <<'CONF';
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-7d.secret;
        sevendigital_upstream_origin http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        proxy_read_timeout 1s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location /music/ {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_CD_PORT;
    }

    location = /audit {
        sevendigital_gateway off;
        default_type text/plain;
        alias $TEST_NGINX_AUDIT_LOG;
    }
CONF
    $config =~ s{proxy_pass http://127.0.0.1:\$TEST_NGINX_MOCK_7D_PORT;}
                {proxy_pass http://127.0.0.1:1;} if $unreachable;
    $block->set_value('config', $config);
});

Gateway::redis('FLUSHDB');

run_tests();

my $ttl = Gateway::redis('TTL', idem_key('umbrella', 'k:order-2026-0001'));
ok($ttl > 3500 && $ttl <= 3600,
   "a kept answer expires after sevendigital_idempotency_ttl (TTL $ttl)");

__DATA__

=== TEST 1: the first sale with a key goes upstream
--- request eval
["GET /__mock/cd/reset", $main::Purchase]
--- more_headers
cdaccesskeyid: umbrella-key-0004
Content-Type: application/x-www-form-urlencoded
Idempotency-Key: order-2026-0001
--- response_headers eval
["", "!Idempotent-Replayed"]
--- response_body_like eval
["ok", qr/"orderId": "ORD-1"/]



=== TEST 2: its retry gets the same answer, marked as a replay, and the upstream saw one sale
--- same_nginx
--- request eval
[$main::Purchase, "GET /__mock/cd/count?path=/music/purchase"]
--- more_headers
cdaccesskeyid: umbrella-key-0004
Content-Type: application/x-www-form-urlencoded
Idempotency-Key: order-2026-0001
--- response_headers eval
["Idempotent-Replayed: true\nContent-Type: application/json", ""]
--- response_body_like eval
[qr/^\{"orderId": "ORD-1", "transactionDate": "2026-11-23T00:00:00Z", "downloadLink": "https:\/\/example.invalid\/dl\/1", "priceSold": 1099\}$/,
 "^1\n\$"]



=== TEST 3: the replay is in the trail as such, with no second intent
--- same_nginx
--- request
GET /audit
--- response_body_like eval
qr/"type":"outcome"[^\n]*"idempotency_key":"order-2026-0001","status":200,"upstream_status":null,"sent":false,"duration_ms":\d+,"result":"completed","reason":"answered from the idempotency store","replay":true\}/



=== TEST 4: the same key for another request: 422 in the API's format, nothing sent
--- same_nginx
--- request eval
[$main::Purchase =~ s/priceSold=100/priceSold=999/r,
 "GET /__mock/cd/count?path=/music/purchase"]
--- more_headers
cdaccesskeyid: umbrella-key-0004
Content-Type: application/x-www-form-urlencoded
Idempotency-Key: order-2026-0001
--- error_code eval
[422, 200]
--- response_body eval
['{"errors":[{"parameter":"Idempotency-Key","message":"This key was used for a different request"}]}', "1\n"]



=== TEST 5: the same key from another partner is another sale
--- request eval
["GET /__mock/7d/reset",
 Gateway::oauth_requests(
    { path => main::deliver('t20-7a'), key => 'acme-key-0001',
      secret => 'acme-secret-0001' },
    { path => main::deliver('t20-7b'), key => 'globex-key-0002',
      secret => 'globex-secret-0002' }),
 "GET /__mock/7d/count?path=/1.2/user/deliveritem"]
--- more_headers
Idempotency-Key: shared-key-1
--- response_headers eval
["", "!Idempotent-Replayed", "!Idempotent-Replayed", ""]
--- response_body_like eval
["ok", qr/<purchase id="P-\d+"/, qr/<purchase id="P-\d+"/, "^2\n\$"]



=== TEST 6: deliveritem: the same transactionId again is the same sale, answered from the store
--- request eval
["GET /__mock/7d/reset",
 Gateway::oauth_requests(
    map { { path => main::deliver('t20-8'), key => 'acme-key-0001',
            secret => 'acme-secret-0001' } } 1 .. 2),
 "GET /__mock/7d/count?path=/1.2/user/deliveritem"]
--- response_headers eval
["", "!Idempotent-Replayed", "Idempotent-Replayed: true", ""]
--- response_body_like eval
["ok", qr/<purchase id="(P-\d+)"/, qr/<purchase id="P-\d+"/, "^1\n\$"]



=== TEST 7: ... and another sale under that transactionId is refused, in XML (the upstream still saw one)
--- request eval
[Gateway::oauth_requests({ path => main::deliver('t20-8', '5.00'),
                           key => 'acme-key-0001',
                           secret => 'acme-secret-0001' }),
 "GET /__mock/7d/count?path=/1.2/user/deliveritem"]
--- more_headers
Accept: application/json
--- error_code eval
[422, 200]
--- response_body eval
['<?xml version="1.0" encoding="utf-8"?><response status="error" version="1.2"><error code="1002"><errorMessage>This key was used for a different request</errorMessage></error></response>', "1\n"]



=== TEST 8: a sale whose outcome is in doubt keeps its key: its retry is 409, never a second sale
--- request eval
["GET /__mock/7d/reset",
 "GET /__mock/7d/fail?path=/1.2/user/deliveritem&delay=3",
 Gateway::oauth_requests(
    map { { path => main::deliver('t20-10'), key => 'acme-key-0001',
            secret => 'acme-secret-0001' } } 1 .. 2),
 "GET /__mock/7d/count?path=/1.2/user/deliveritem"]
--- error_code eval
[200, 200, 504, 409, 200]
--- response_body_like eval
["ok", "ok", qr/./,
 qr/<errorMessage>A request with this key is in progress or its outcome is not known yet</,
 "^1\n\$"]



=== TEST 9: a sale that never left frees its key: its retry is tried again, not refused
--- config
# the upstream is unreachable: nothing is sent
--- request eval
[Gateway::oauth_requests(
    map { { path => main::deliver('t20-11'), key => 'acme-key-0001',
            secret => 'acme-secret-0001' } } 1 .. 2)]
--- error_code eval
[502, 502]



=== TEST 10: without Redis a keyed sale is refused, not risked; an unkeyed one goes on
--- http_config
    sevendigital_redis 127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT;
    sevendigital_redis_timeout 100ms;
--- request eval
["GET /__mock/cd/reset", $main::Purchase, "GET /__mock/cd/count?path=/music/purchase"]
--- more_headers
cdaccesskeyid: umbrella-key-0004
Content-Type: application/x-www-form-urlencoded
Idempotency-Key: order-2026-0002
--- error_code eval
[200, 503, 200]
--- response_body eval
["ok\n", '{"errors":[{"parameter":"Idempotency-Key","message":"The sale could not be checked against earlier ones, it was not sent; try again later"}]}', "0\n"]



=== TEST 11: an invalid key is refused
--- request eval
$main::Purchase
--- more_headers eval
"cdaccesskeyid: umbrella-key-0004\nContent-Type: application/x-www-form-urlencoded\nIdempotency-Key: " . ('k' x 256)
--- error_code: 400
--- response_body chomp
{"errors":[{"parameter":"Idempotency-Key","message":"Invalid Idempotency-Key"}]}



=== TEST 12: a sale the upstream refused (4xx) frees its key: the retry is tried, not answered with the refusal
--- request eval
["GET /__mock/7d/reset",
 "GET /__mock/7d/fail?path=/1.2/user/deliveritem&status=402",
 Gateway::oauth_requests(
    map { { path => main::deliver('t20-402'), key => 'acme-key-0001',
            secret => 'acme-secret-0001' } } 1 .. 2),
 "GET /__mock/7d/count?path=/1.2/user/deliveritem"]
--- error_code eval
[200, 200, 402, 200, 200]
--- response_headers eval
["", "", "", "!Idempotent-Replayed", ""]
--- response_body_like eval
["ok", "ok", qr/Injected failure/, qr/<purchase id=/, "^2\n\$"]
