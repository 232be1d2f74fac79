# The partners file is re-read on "nginx -s reload" while requests keep
# coming: a key added is accepted once the new workers run, and no request
# is lost or refused meanwhile (each on its own connection: a kept-alive
# connection closed by an exiting worker is nginx's own behaviour, see
# docs/deployment.md).  Test::More: it needs a client running beside the
# reloads.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

my $tmp = tempdir('sevendigital-reload-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $partners = "$tmp/partners.json";
my $stop = "$tmp/stop";
my $results = "$tmp/results";

sub write_partners {
    my @extra = @_;
    my $keys = join ',', map { qq({"key": "$_"}) } 'acme-key-0001', @extra;
    open my $f, '>', "$partners.new" or die $!;
    print $f qq({"partners": [{"id": "acme", "keys": [$keys]}]}\n);
    close $f;
    rename "$partners.new", $partners or die $!;
}

write_partners();

my $port = Gateway::free_port();
my $dir = Gateway::start_nginx('reload', <<"CONF", port => $port, workers => 2,
    sevendigital_partners $partners;
    sevendigital_audit_log off;
    proxy_next_upstream off;
    server {
        listen 127.0.0.1:$port;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_7D_PORT};
        }
    }
CONF
                               log_level => 'notice');

sub get {
    my $key = shift;
    return Gateway::http_get($port, '/1.2/release/details?releaseId=1'
                                    . "&oauth_consumer_key=$key")->{status};
}

# the client: one request after another until told to stop
my $pid = fork;
die "fork: $!" unless defined $pid;
if ($pid == 0) {
    my %seen;
    my $n = 0;
    until (-e $stop) {
        $seen{get('acme-key-0001')}++;
        $n++;
    }
    open my $f, '>', $results or exit 1;
    print $f join(' ', map { "$_=$seen{$_}" } sort keys %seen), "\n";
    close $f;
    exit 0;
}

# three reloads, each adding a key, each waited for until the old workers
# are gone
for my $round (1 .. 3) {
    write_partners(map { "acme-key-new-$_" } 1 .. $round);
    ok(Gateway::reload_nginx($dir),
       "reload $round: the old workers are gone");
    is(get("acme-key-new-$round"), 200, "... the key it added is accepted");
}

open my $s, '>', $stop or die $!;
close $s;
waitpid $pid, 0;

open my $r, '<', $results or die "the client left no results\n";
my $seen = <$r>;
close $r;
chomp $seen;
like($seen, qr/^200=\d+$/, "every request during the reloads got 200 ($seen)");
my ($n) = $seen =~ /^200=(\d+)$/;
cmp_ok($n // 0, '>', 0, '... and there were some');

Gateway::stop_nginx($dir);

is(Gateway::log_count($dir, qr/\[alert\]|\[crit\]|\[emerg\]/), 0,
   'no alert, crit or emerg');

done_testing();
