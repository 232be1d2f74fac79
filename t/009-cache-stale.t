# Stale answers: an expired entry, still within sevendigital_cache_stale,
# stands in when the upstream fails (5xx, a timeout, or 429).  Entries are
# planted in Redis as another node would have left them, with the key and
# the encoding computed by t/lib/Gateway.pm, independently of the module.

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
        sevendigital_cache_stale 1h;
        proxy_read_timeout 300ms;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;
    return if Gateway::same_nginx($block);
    my $config = $block->{config} ? $block->{config}[0] : '';
    $block->set_value('config', $Location . $config)
        unless $config =~ /sevendigital_gateway/;
    if (!defined $block->{http_config}) {
        $block->set_value('http_config', <<'CONF');
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
CONF
    }
});

sub expired {
    my ($id, %e) = @_;
    Gateway::plant_entry(
        Gateway::cache_key('7digital', '/1.2/release/details', 'xml',
                           releaseId => $id),
        type => 'application/xml; charset=utf-8', fresh => -60,
        stale => 3000, body => "<stale id=\"$id\"/>", %e);
    return "GET /1.2/release/details?releaseId=$id&oauth_consumer_key=acme-key-0001";
}

run_tests();

__DATA__

=== TEST 1: a fresh planted entry is a hit (the key and encoding agree)
--- request eval
Gateway::plant_entry(Gateway::cache_key('7digital', '/1.2/release/details', 'xml', releaseId => 'fresh-1'),
    type => 'application/xml; charset=utf-8', fresh => 300, stale => 300,
    stored => -5, body => '<planted/>')
&& "GET /1.2/release/details?oauth_consumer_key=acme-key-0001&releaseId=fresh-1"
--- response_headers
X-Cache-Status: HIT
Content-Type: application/xml; charset=utf-8
--- response_headers_like
Age: (?:[5-9]|[1-9][0-9]+)
--- response_body chomp
<planted/>
--- no_error_log
[error]



=== TEST 2: upstream 500 ...
--- request
GET /__mock/7d/fail?path=/1.2/release/details&status=500
--- response_body
ok



=== TEST 3: ... the stale entry answers
--- same_nginx
--- request eval
main::expired('s2')
--- response_headers
X-Cache-Status: STALE
Content-Type: application/xml; charset=utf-8
--- response_body: <stale id="s2"/>
--- error_log
sevendigital: upstream answered 500, serving a stale cache entry
--- no_error_log
[alert]



=== TEST 4: upstream 429: the stale entry answers (nginx's own stale serving does not)
--- request eval
["GET /__mock/7d/fail?path=/1.2/release/details&status=429", main::expired('s3')]
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-Cache-Status: STALE"]
--- response_body eval
["ok\n", '<stale id="s3"/>']
--- no_error_log
[alert]



=== TEST 5: upstream too slow (proxy_read_timeout): the stale entry answers
--- request eval
["GET /__mock/7d/fail?path=/1.2/release/details&delay=1.5", main::expired('s4')]
--- response_headers eval
["", "X-Cache-Status: STALE"]
--- response_body eval
["ok\n", '<stale id="s4"/>']
--- timeout: 5
--- no_error_log
[alert]



=== TEST 6: the upstream answers: the expired entry is replaced
--- request eval
[main::expired('s5'), "GET /1.2/release/details?releaseId=s5&oauth_consumer_key=acme-key-0001"]
--- response_headers eval
["X-Cache-Status: EXPIRED", "X-Cache-Status: HIT"]
--- response_body_like eval
[qr{<release id="12345">}, qr{<release id="12345">}]
--- no_error_log
[error]



=== TEST 7: past its stale window, an entry does not stand in
--- request eval
["GET /__mock/7d/fail?path=/1.2/release/details&status=503", main::expired('s6', stale => -1)]
--- error_code eval
[200, 503]
--- response_headers eval
["", "X-Cache-Status: EXPIRED"]
--- no_error_log
[alert]



=== TEST 8: without sevendigital_cache_stale here, errors pass through, whatever the entry
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_cache on;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
["GET /__mock/7d/fail?path=/1.2/release/details&status=500", main::expired('s7')]
--- error_code eval
[200, 500]
--- no_error_log
[alert]



=== TEST 9: background update: the expired entry at once, refreshed behind it (also under valgrind)
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_cache on;
        sevendigital_cache_stale 1h;
        sevendigital_cache_background_update on;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
main::expired('s8')
--- response_headers
X-Cache-Status: UPDATING
--- response_body: <stale id="s8"/>
--- no_error_log
[error]
[alert]
