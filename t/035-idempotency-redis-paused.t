# A keyed sale refused because Redis did not answer in time never left,
# so its key must be free again (docs/purchases.md) even though its claim
# reaches Redis only once Redis goes on: the gateway settles the key as
# soon as Redis takes commands again, and the retry is sold, once.
# (Test::More: Redis is paused and resumed between requests.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $port = Gateway::free_port();
my ($redis, $rport) = Gateway::start_redis();
# in the gateway's own directory, which start_nginx makes anew
my $trail = "$FindBin::Bin/servroot-paused/logs/audit.log";

my $dir = Gateway::start_nginx('paused', <<"CONF", port => $port);
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_redis 127.0.0.1:$rport;
    sevendigital_redis_timeout 300ms;
    sevendigital_audit_log $trail;
    proxy_next_upstream off;
    server {
        listen 127.0.0.1:$port;
        location /music/ {
            sevendigital_gateway choosedigital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_CD_KEY};
            sevendigital_upstream_secret_file $ENV{TEST_NGINX_FIXTURES}/upstream-cd.secret;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_CD_PORT};
        }
    }
CONF

# the status of one keyed sale
sub sale {
    my $form = 'cdin=CD9&customerId=cust-9&customerCountryCode=us'
               . '&priceSold=900';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 30)
        or die "connect: $!";
    print $s "POST /music/purchase HTTP/1.0\r\nHost: x\r\n"
             . "cdaccesskeyid: umbrella-key-0004\r\n"
             . "Idempotency-Key: paused-1\r\n"
             . "Content-Type: application/x-www-form-urlencoded\r\n"
             . "Content-Length: " . length($form) . "\r\n\r\n$form";
    local $/;
    my $res = <$s> // '';
    return $res =~ m{^HTTP/1\.\d (\d+)} ? $1 : 0;
}

sub claims {
    my $keys = Gateway::redis_at($rport, 'KEYS', 'sevendigital:idem:*');
    return defined $keys && $keys =~ /^\*(\d+)/ ? $1 : 0;
}

my $mock = $ENV{TEST_NGINX_MOCK_CD_PORT};
Gateway::http_get($mock, '/__mock/reset');

kill 'STOP', $redis;
is(sale(), 503, 'Redis paused: the keyed sale is refused, it never left');
is(Gateway::mock_count($mock, '/music/purchase'), 0,
   '... the upstream saw nothing');
kill 'CONT', $redis;

# the claim lands when Redis goes on; the gateway frees it once Redis is
# back (at most a probe's wait and a second later)
my $deadline = time + Gateway::scaled(15);
sleep 0.1 while claims() && time < $deadline;
is(claims(), 0, 'the key of the sale that never left is free again');

is(sale(), 200, 'the retry is sold');
is(Gateway::mock_count($mock, '/music/purchase'), 1, '... once');
is(sale(), 200, 'a retry after that gets its answer');
is(Gateway::mock_count($mock, '/music/purchase'), 1, '... not a second sale');

Gateway::stop_nginx($dir);
is(Gateway::log_count($dir, qr/\[(alert|crit|emerg)\]/), 0, 'no alert');

done_testing();
