# A duplicate of a keyed sale while the first is still in flight: 409,
# and the upstream sees one sale; once the first has its answer, a retry
# gets that answer.  (Test::More: two clients at once, the second sent
# once the trail shows the first's intent, never after a fixed sleep.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);

my $port = Gateway::free_port();
my ($redis, $rport) = Gateway::start_redis();
my $trail = "$FindBin::Bin/servroot-inflight-audit.log";
unlink $trail;

my $dir = Gateway::start_nginx('inflight', <<"CONF", port => $port);
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_redis 127.0.0.1:$rport;
    sevendigital_redis_timeout $ENV{TEST_NGINX_REDIS_TIMEOUT};
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
        location /__mock/ {
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_CD_PORT};
        }
    }
CONF

sub send_sale {
    my $form = 'cdin=CD7&customerId=cust-7&customerCountryCode=us'
               . '&priceSold=700';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    print $s "POST /music/purchase HTTP/1.0\r\nHost: x\r\n"
             . "cdaccesskeyid: umbrella-key-0004\r\n"
             . "Idempotency-Key: inflight-1\r\n"
             . "Content-Type: application/x-www-form-urlencoded\r\n"
             . "Content-Length: " . length($form) . "\r\n\r\n$form";
    return $s;
}

sub answer {
    my ($s) = @_;
    my $sel = IO::Select->new($s);
    my ($data, $deadline) = ('', time + Gateway::scaled(20));
    while (time < $deadline) {
        next unless $sel->can_read(0.5);
        sysread($s, my $buf, 65536) or last;
        $data .= $buf;
    }
    return $data;
}

sub get {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    print $s "GET $_[0] HTTP/1.0\r\nHost: x\r\n\r\n";
    return (split /\r\n\r\n/, answer($s), 2)[1];
}

get('/__mock/reset');
# the first sale is held by the upstream long enough to be overtaken
get('/__mock/fail?path=/music/purchase&delay=' . Gateway::scaled(3));

my $first = send_sale();

# its intent on disk means its key is claimed: now the duplicate
my $deadline = time + Gateway::scaled(10);
my $seen = 0;
while (!$seen && time < $deadline) {
    if (open my $fh, '<', $trail) {
        $seen = grep { /"type":"intent"/ } <$fh>;
    }
    sleep 0.02 unless $seen;
}
ok($seen, "the first sale's intent is in the trail");

my $dup = answer(send_sale());
like($dup, qr{^HTTP/1\.1 409 }, 'the duplicate in flight gets 409');
like($dup, qr/"message":"A request with this key is in progress/,
     '... in Choose Digital\'s errors[] format');

like(answer($first), qr{^HTTP/1\.1 200 .*"orderId": "ORD-1"}s,
     'the first gets its answer');

my $retry = answer(send_sale());
like($retry, qr{^HTTP/1\.1 200 .*Idempotent-Replayed: true}s,
     'a retry after it is answered from the store');
is(get('/__mock/count?path=/music/purchase'), "1\n",
   'the upstream saw one sale');

Gateway::stop_nginx($dir);
unlink $trail;
done_testing();
