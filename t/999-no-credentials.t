# Run last (prove -r t runs files in order): no log that any nginx of the
# whole run wrote, access logs in nginx's "combined" format ($request) and
# error logs at info, holds a partner's key or secret, an upstream secret
# or the gateway's upstream keys (t/lib/Gateway.pm, suite_logs).  Blocks
# that ask for credentials with "sevendigital_log_credentials on" log
# elsewhere.  The logs are emptied afterwards, for the next run, unless
# something was found.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use JSON::PP;

my $dir = $ENV{TEST_NGINX_SUITE_LOGS};
my $fx = $ENV{TEST_NGINX_FIXTURES};

# every credential the suites use
my %secret;
for my $file (glob "$fx/partners*.json") {
    open my $f, '<', $file or die "$file: $!";
    my $json = decode_json(do { local $/; <$f> });
    close $f;
    for my $p (@{$json->{partners}}) {
        for my $k ($p, @{$p->{keys} // []}) {
            $secret{$k->{key}} = 1 if $k->{key};
            $secret{$k->{secret}} = 1 if $k->{secret};
        }
    }
}
for my $file ("$fx/upstream-7d.secret", "$fx/upstream-cd.secret") {
    open my $f, '<', $file or die "$file: $!";
    chomp(my $s = <$f>);
    close $f;
    $secret{$s} = 1;
}
# (the operator's own 7digital consumer key is part of the upstream URL,
# which nginx quotes in the "upstream:" of an upstream's failure; its
# secret never is: docs/deployment.md)
$secret{$ENV{TEST_NGINX_UPSTREAM_CD_KEY}} = 1;

# as they are written, and as they travel in a query string
sub escaped {
    (my $s = shift) =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
    return $s;
}
my @needles = map { ($_, escaped($_)) } sort keys %secret;
my %seen;
@needles = grep { !$seen{$_}++ } @needles;

my $lines = 0;
for my $log ('access.log', 'error.log') {
    my $path = "$dir/$log";
    if (!-s $path) {
        plan skip_all => "no suite logs in $dir: run the whole suite "
                         . '(prove -r t)';
    }
    open my $f, '<', $path or die "$path: $!";
    my (@found, $n);
    while (my $line = <$f>) {
        $lines++;
        $n = $.;

        # the rewrite module's notices, which nginx writes only when a log
        # is at debug (as each suite's own is): the debug-level exception
        next if $line =~ /\[notice\] .*(?:rewritten data: |" (?:does not )?matches ")/;

        for my $n (@needles) {
            push @found, "$log:$.: $n" if index($line, $n) >= 0;
        }
    }
    close $f;
    is(scalar @found, 0, "$log: no key or secret in " . ($n // 0) . ' lines')
        or diag(join "\n", @found[0 .. ($#found > 9 ? 9 : $#found)]);
}

cmp_ok($lines, '>', 200, 'the logs of the whole run were read');

# the next run starts afresh; what failed stays there to be read
if (Test::More->builder->is_passing) {
    truncate "$dir/$_", 0 for 'access.log', 'error.log';
}

done_testing();
