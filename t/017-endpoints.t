# Endpoints that know what they are: one "location /1.2/" and one Choose
# Digital location, with nothing else said, make a complete gateway.  Every
# endpoint of shared/reference/upstream-apis.md (2.1, 2.2, 3 and 1.5),
# written below independently of the module's table, is sent twice, in odd
# case and with a trailing slash, signed by the partner where it must be.
# The mocks record how each call reached them (their own reading of the
# signature, oauthlib's verification) and which reached them at all:
# catalogue reads once (the second is a hit), everything else twice.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
no_root_location();
Gateway::defaults();

# method, path under /1.2/ (a segment starting with "=" is a value, sent
# as is), what the upstream must see: unsigned, 2-legged (the partner
# signed without a user token, so 3-legged calls go 2-legged too); and
# whether the answer may be cached.
our @SevenDigital = map { [split ' '] } split /\n/, <<'LIST';
GET release/byDate unsigned cached
GET release/details unsigned cached
GET release/editorial unsigned cached
GET release/chart unsigned cached
GET release/recommend unsigned cached
GET release/search unsigned cached
GET release/tracks unsigned cached
GET release/tags unsigned cached
GET release/bytag/new unsigned cached
GET release/bytag/top unsigned cached
GET release/match/byId 2-legged cached
GET artist/browse unsigned cached
GET artist/chart unsigned cached
GET artist/details unsigned cached
GET artist/releases unsigned cached
GET artist/similar unsigned cached
GET artist/search unsigned cached
GET artist/topTracks unsigned cached
GET artist/tags unsigned cached
GET artist/bytag/top unsigned cached
GET artist/match/byId 2-legged cached
GET track/chart unsigned cached
GET track/details unsigned cached
GET track/search unsigned cached
GET track/match/byId 2-legged cached
GET tag unsigned cached
GET basket unsigned private
GET basket/create unsigned sale
GET basket/addItem unsigned sale
GET basket/removeItem unsigned sale
GET basket/paypalurl unsigned private
POST basket/applyVoucher 2-legged sale
GET basket/addpriceditem 2-legged sale
POST basket/completepaypalpurchase 2-legged sale
GET user/unlimitedStreaming 2-legged private
POST user/unlimitedStreaming 2-legged private
GET user/locker 2-legged private
GET user/purchase/item 2-legged sale
GET user/purchase/rrpitem 2-legged sale
GET user/purchase/basket 2-legged sale
GET user/purchase/priceditem 2-legged sale
DELETE user/purchase/=9001/track/=42 2-legged sale
DELETE user/purchase/=9001/release/=7 2-legged sale
GET user/payment/card 2-legged private
POST user/payment/card/select 2-legged sale
POST user/payment/card/delete 2-legged sale
POST user/payment/card/add 2-legged sale
POST user/payment/cardregistration 2-legged sale
GET user/payment/cardregistration/=12 2-legged private
GET user/deliveritem 2-legged sale
POST user/signup 2-legged private
GET user/create 2-legged private
GET user/details 2-legged private
POST user/authenticate 2-legged private
GET users 2-legged private
PUT users/=77/update 2-legged private
GET countries unsigned cached
GET translations unsigned cached
GET country/resolve unsigned cached
GET editorial/list unsigned cached
GET catalogue/artist-byurl unsigned cached
GET catalogue/release-byurl unsigned cached
GET payment/card/type unsigned cached
GET payment/voucher/details 2-legged private
GET user/playlists 2-legged private
GET playlists/=5 2-legged private
LIST

our $H = 'a' x 64;
our @Choose = map { [split ' '] } split /\n/, <<"LIST";
GET music header private
GET music/artist/=Artist/=us/=false header cached
GET music/list/=top/=us header cached
GET music/curatedgenres header cached
GET music/genres header cached
GET music/curatedcharts/=us header cached
GET music/download/=c1/=$H/=us header private
GET music/search header cached
GET music/detail/=c1 header cached
GET music/isrc/=GB123/=us header cached
PUT music/resetdownload header+hash sale
POST music/purchase header+hash sale
PUT music/update header+hash sale
PUT music/cancel header+hash sale
GET movie/browse/=us header cached
GET movie/detail/=c2 header cached
POST movie/purchase header+hash sale
GET movie/playerinfo/=c2/=$H header private
PUT tv/update header+hash sale
PUT tv/cancel header+hash sale
GET tv/list/top/=us header cached
GET ebook/subjects header cached
POST ebook/taxcalc header private
POST ebook/addressvalidation header private
POST ebook/purchase header+hash sale
GET audiobook/detail/=c3/=us header cached
PUT audiobook/cancel header+hash sale
POST history/all header+hash private
POST history/count header+hash private
PUT videoplayer/start header private
GET promo/lists/ids/=us header cached
GET promo/lists/=banner/=us/=5 header cached
LIST

# "release/details" as "ReLeAsE/DeTaIlS/": 7digital routes paths without
# regard to case, and clients add trailing slashes
sub odd {
    my $path = shift;
    my $i = 0;
    return join('/', map {
        s/^=// ? $_ : join '', map { $i++ % 2 ? lc : uc } split //
    } split m{/}, $path) . '/';
}

my $n = 0;

# the parameters each kind of call needs to be a valid one
sub params_7d {
    my ($method, $path) = @_;
    $n++;
    return "userId=1&releaseId=2&country=GB&transactionId=t-$n"
           . "&retailPrice=1.99&currency=GBP" if $path =~ /deliveritem/;
    return "releaseId=1&country=GB";
}

sub params_cd {
    my ($path) = @_;
    return 'cdin=c1&customerId=cust-1&customerCountryCode=us&priceSold=100'
           . '&currencyType=points' if $path =~ /purchase$/;
    return 'customerId=cust-1&orderId=O-1' if $path =~ /resetdownload$/;
    return 'orderId=O-1&customerId=cust-1' if $path =~ /(update|cancel)$/;
    return 'customerId=cust-1&customerCountryCode=us' if $path =~ /^history/;
    return 'country=us';
}

our (@Requests7d, @Seen7d, @Requests_cd, @Seen_cd);

for my $e (@SevenDigital) {
    my ($method, $path, $signing, $class) = @$e;
    my $target = '/1.2/' . odd($path);
    for my $time (1, 2) {
        my $params = params_7d($method, $path);
        my $form = $method =~ /^(POST|PUT)$/;
        push @Requests7d, {
            path => $form ? $target : "$target?$params", method => $method,
            key => 'acme-key-0001', secret => 'acme-secret-0001',
            type => $form ? 'body' : 'query',
            ($form ? (body => $params) : ()),
        };
        next if $time == 2 && $class eq 'cached';
        push @Seen7d, qq({"method": "$method", "path": "$target", )
                      . qq("signing": "$signing"});
    }
}

for my $e (@Choose) {
    my ($method, $path, $signing, $class) = @$e;
    my $target = '/' . odd($path);
    my $params = params_cd($path);
    for my $time (1, 2) {
        push @Requests_cd, $method =~ /^(POST|PUT)$/
                           ? "$method $target\n$params"
                           : "$method $target?$params";
        next if $time == 2 && $class eq 'cached';
        push @Seen_cd, qq({"method": "$method", "path": "$target", )
                       . qq("signing": "$signing"});
    }
}

add_block_preprocessor(sub {
    my $block = shift;
    return if Gateway::same_nginx($block);
    $block->set_value('http_config', <<'CONF');
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
    sevendigital_audit_log $TEST_NGINX_AUDIT_LOG;
    proxy_next_upstream off;
CONF
    my $config = $block->{config} ? $block->{config}[0] : '';
    $block->set_value('config', <<'CONF' . $config);
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-7d.secret;
        sevendigital_upstream_origin http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        sevendigital_cache on;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location / {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        sevendigital_cache on;
        add_header X-Cache-Status $sevendigital_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_CD_PORT;
    }
CONF
});

Gateway::redis('FLUSHDB');

run_tests();

# every sale of both tables left an intent and exactly one outcome with
# the same request id, and nothing else did
{
    require JSON::PP;
    open my $fh, '<', $ENV{TEST_NGINX_AUDIT_LOG} or die $!;
    my (%intent, %outcome);
    while (my $line = <$fh>) {
        my $rec = JSON::PP::decode_json($line);
        next unless $rec->{api};
        push @{$intent{$rec->{api}}{lc $rec->{path}}}, $rec->{id}
            if $rec->{type} eq 'intent';
        $outcome{$rec->{id}}++ if $rec->{type} eq 'outcome';
    }
    close $fh;
    for my $e ([ '7digital', \@SevenDigital ], [ 'choosedigital', \@Choose ]) {
        my ($api, $list) = @$e;
        my %sales;
        for my $row (@$list) {
            next unless $row->[3] eq 'sale';
            (my $path = lc $row->[1]) =~ s/=//g;
            $sales{$path}++;
        }
        for my $path (sort keys %sales) {
            my @ids = @{$intent{$api}{$path} // []};
            ok(@ids == 2 && !grep({ ($outcome{$_} // 0) != 1 } @ids),
               "$api $path: two sales, each an intent and one outcome");
        }
        my @others = grep { !$sales{$_} } keys %{$intent{$api} // {}};
        is("@others", '', "$api: no intent for anything but a sale");
    }
}

__DATA__

=== TEST 1: the mocks start from nothing
--- request eval
["GET /__mock/7d/reset", "GET /__mock/cd/reset"]
--- response_body eval
["ok\n", "ok\n"]



=== TEST 2: every 7digital endpoint, twice, in odd case with a trailing slash
--- same_nginx
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- request eval
[Gateway::oauth_requests(@main::Requests7d)]
--- error_code eval
[(200) x @main::Requests7d]
--- no_error_log
[error]



=== TEST 3: each reached the upstream signed as 7digital expects, and only catalogue reads were answered from the cache
--- same_nginx
--- request
GET /__mock/7d/log
--- response_body eval
"[" . CORE::join(', ', @main::Seen7d) . "]"



=== TEST 4: every Choose Digital endpoint, twice, in odd case with a trailing slash
--- same_nginx
--- more_headers
cdaccesskeyid: umbrella-key-0004
Content-Type: application/x-www-form-urlencoded
--- request eval
[@main::Requests_cd]
--- error_code eval
[(200) x @main::Requests_cd]
--- no_error_log
[error]



=== TEST 5: each reached the upstream header-signed, hashed where the API says, and only catalogue reads were cached
--- same_nginx
--- request
GET /__mock/cd/log
--- response_body eval
"[" . CORE::join(', ', @main::Seen_cd) . "]"



=== TEST 6: a key alone is refused where 7digital needs the partner's own signature: user management, vouchers, user calls, sales
--- request eval
[
"GET /1.2/User/Details/?userId=1&oauth_consumer_key=acme-key-0001",
"POST /1.2/basket/APPLYVOUCHER\nvoucherCode=X&oauth_consumer_key=acme-key-0001",
"GET /1.2/user//deliveritem?userId=1&releaseId=2&country=GB&transactionId=t&retailPrice=1&currency=GBP&oauth_consumer_key=acme-key-0001",
"DELETE /1.2/USER/purchase/1/track/2?oauth_consumer_key=acme-key-0001",
"GET /1.2/release/details/?releaseId=1&oauth_consumer_key=acme-key-0001",
]
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- error_code eval
[401, 401, 401, 401, 200]
--- response_body_like eval
[
qr/^OAuth authentication error: This resource requires a signature$/,
qr/^OAuth authentication error: This resource requires a signature$/,
qr/^OAuth authentication error: This resource requires a signature$/,
qr/^OAuth authentication error: This resource requires a signature$/,
qr/<echo path="\/release\/details\/"|<release/,
]



=== TEST 7: an endpoint neither table knows is never cached, and a key alone does not get it signed with the gateway's secret
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/label/details?labelId=1&oauth_consumer_key=acme-key-0001",
Gateway::oauth_requests(
    map { { path => '/1.2/label/details?labelId=1', key => 'acme-key-0001',
            secret => 'acme-secret-0001' } } 1 .. 2),
"GET /__mock/7d/log",
]
--- error_code eval
[200, 401, 200, 200, 200]
--- response_headers eval
["", "", "X-Cache-Status: BYPASS", "X-Cache-Status: BYPASS", ""]
--- response_body_like eval
[
"ok",
qr/^OAuth authentication error: This resource requires a signature$/,
qr/<echo path="\/label\/details"/,
qr/<echo path="\/label\/details"/,
qr/^\[\{"method": "GET", "path": "\/1.2\/label\/details", "signing": "2-legged"\}, \{"method": "GET", "path": "\/1.2\/label\/details", "signing": "2-legged"\}\]$/,
]



=== TEST 8: sevendigital_endpoint makes an unknown endpoint a cached catalogue read, unsigned
--- config
    sevendigital_endpoint label/details catalogue;
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/label/details?labelId=2&oauth_consumer_key=acme-key-0001",
"GET /1.2/label/details?labelId=2&oauth_consumer_key=acme-key-0001",
"GET /__mock/7d/log",
]
--- response_headers eval
["", "X-Cache-Status: MISS", "X-Cache-Status: HIT", ""]
--- response_body_like eval
[
"ok",
qr/<echo path="\/label\/details"/,
qr/<echo path="\/label\/details"/,
qr/^\[\{"method": "GET", "path": "\/1.2\/label\/details", "signing": "unsigned"\}\]$/,
]



=== TEST 9: ... and can make a catalogue read private
--- config
    sevendigital_endpoint /1.2/artist/:id/* user off;
--- request eval
[
"GET /1.2/artist/details?artistId=3&oauth_consumer_key=acme-key-0001",
"GET /1.2/artist/5/releases?oauth_consumer_key=acme-key-0001",
]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: BYPASS"]
