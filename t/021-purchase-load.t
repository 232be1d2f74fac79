# Many workers, a few hundred sales at once: every record of the trail is
# one whole line of JSON, every intent has exactly one outcome, and the
# upstream saw each sale once.  With sevendigital_audit_sync on, the
# intent reaches the disk (fdatasync in nginx's thread pool) before the
# sale leaves.  (Test::More: concurrent clients, which the data-driven
# format cannot send.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Time::HiRes qw(time);

my $port = Gateway::free_port();
my $trail = "$FindBin::Bin/servroot-load-audit.log";
unlink $trail;

my %opt = (port => $port, workers => 4, connections => 2048);
my $dir = Gateway::start_nginx('load', <<"CONF", %opt);
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_audit_log $trail;
    sevendigital_audit_sync on;
    proxy_next_upstream off;
    server {
        listen 127.0.0.1:$port backlog=1024;
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

sub get {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    print $s "GET $path HTTP/1.0\r\nHost: x\r\n\r\n";
    my $r = do { local $/; <$s> };
    return (split /\r\n\r\n/, $r, 2)[1];
}

get('/__mock/reset');

# the sales, all sent before any answer is read
my $n = $ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 300;
my (@socks, %body);
for my $i (1 .. $n) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    my $form = "cdin=CD$i&customerId=cust-$i&customerCountryCode=us"
               . "&priceSold=$i&transactionId=load-$i";
    print $s "POST /music/purchase HTTP/1.0\r\nHost: x\r\n"
             . "cdaccesskeyid: umbrella-key-0004\r\n"
             . "Content-Type: application/x-www-form-urlencoded\r\n"
             . "Content-Length: " . length($form) . "\r\n\r\n$form";
    push @socks, $s;
}

my $sel = IO::Select->new(@socks);
my %data;
my $deadline = time + Gateway::scaled(60);
while ($sel->count && time < $deadline) {
    for my $s ($sel->can_read(1)) {
        my $got = sysread $s, my $buf, 65536;
        if ($got) {
            $data{fileno $s} .= $buf;
        } else {
            $sel->remove($s);
        }
    }
}

my $ok = grep { ($data{fileno $_} // '') =~ m{^HTTP/1\.1 200 } } @socks;
is($ok, $n, "all $n sales answered 200");
is(get('/__mock/count?path=/music/purchase'), "$n\n",
   'the upstream saw each sale once');

# two sales on one kept-alive connection: the second is not held up by
# the first one's wait for the disk
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    my $got = '';
    for my $i (1, 2) {
        my $form = "cdin=K$i&customerId=ka&customerCountryCode=us"
                   . "&priceSold=1&transactionId=ka-$i";
        print $s "POST /music/purchase HTTP/1.1\r\nHost: x\r\n"
                 . "cdaccesskeyid: umbrella-key-0004\r\n"
                 . "Content-Type: application/x-www-form-urlencoded\r\n"
                 . "Content-Length: " . length($form) . "\r\n\r\n$form";
        my $sel = IO::Select->new($s);
        my $until = time + Gateway::scaled(10);
        my $answers = () = $got =~ m{HTTP/1\.1 200 }g;
        while ($answers < $i && time < $until && $sel->can_read(0.5)) {
            sysread($s, my $buf, 65536) or last;
            $got .= $buf;
            $answers = () = $got =~ m{HTTP/1\.1 200 }g;
        }
    }
    my $answers = () = $got =~ m{HTTP/1\.1 200 }g;
    is($answers, 2, 'two sales on one kept-alive connection, both answered');
}
$n += 2;

Gateway::stop_nginx($dir);

open my $fh, '<', $trail or die "$trail: $!";
my @lines = <$fh>;
close $fh;

my (%intent, %outcome, $bad);
for my $line (@lines) {
    my $rec = eval { decode_json($line) };
    if (!$rec || $line !~ /\n\z/) {
        $bad++;
        next;
    }
    $intent{$rec->{id}}++ if $rec->{type} eq 'intent';
    $outcome{$rec->{id}}++ if $rec->{type} eq 'outcome';
}

is($bad // 0, 0, 'every line is one whole JSON object');
is(scalar keys %intent, $n, "$n intents");
is(scalar(grep { $intent{$_} == 1 && ($outcome{$_} // 0) == 1 } keys %intent),
   $n, 'each intent once, with exactly one outcome');
is(scalar keys %outcome, $n, 'no outcome without its intent');

unlink $trail;
done_testing();
