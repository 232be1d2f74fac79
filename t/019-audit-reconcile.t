# bin/sevendigital-audit, the purchase audit trail's reconciliation tool, on
# audit files written here (no nginx): totals, sales in doubt, replays,
# refusals, malformed lines, rotated files, --json, --partner, --since and
# --until, exit codes; sample records against docs/audit-record.schema.json
# when python3 has jsonschema.
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use IO::Compress::Gzip qw(gzip $GzipError);
use JSON::PP;
use POSIX ();
use Test::More;

my $root = "$FindBin::Bin/..";
my $tool = "$root/bin/sevendigital-audit";
my $schema = "$root/docs/audit-record.schema.json";
my $dir = tempdir(CLEANUP => 1);
my $json = JSON::PP->new->canonical;

my $n = 0;
sub new_id { sprintf '%032x', ++$n }

sub base {
    my ($type, $id, $partner, $time, %more) = @_;
    return { v => 1, time => $time, type => $type, id => $id,
             node => 'gw1', partner => $partner, api => '7digital',
             method => 'POST', endpoint => 'user/purchase/item',
             client => '192.0.2.7', %more };
}

sub intent {
    my ($id, $partner, $time, $amount, $currency, %fields) = @_;
    return base('intent', $id, $partner, $time,
                fields => { userId => 'u1', %fields },
                (defined $amount ? (amount => $amount) : ()),
                (defined $currency ? (currency => $currency) : ()));
}

sub outcome {
    my ($id, $partner, $time, $result, %more) = @_;
    return base('outcome', $id, $partner, $time,
                status => 200, upstream_status => 200, sent => JSON::PP::true,
                duration_ms => 120, result => $result, %more);
}

sub refused {
    my ($id, $partner, $time, %more) = @_;
    return base('refused', $id, $partner, $time,
                status => 403, reason => 'unknown partner key', %more);
}

# a completed sale: intent and outcome
sub sale {
    my ($partner, $time, $amount, $currency, $tx) = @_;
    my $id = new_id();
    return (intent($id, $partner, $time, $amount, $currency,
                   transactionId => $tx),
            outcome($id, $partner, $time, 'completed',
                    purchase_id => "p-$tx"));
}

my $files = 0;
sub write_file {
    my ($name, @records) = @_;
    my $path = "$dir/" . ++$files . "-$name";
    open my $fh, '>', $path or die "$path: $!";
    print $fh ref $_ ? $json->encode($_) . "\n" : $_ for @records;
    close $fh or die "$path: $!";
    return $path;
}

# runs the tool: (exit code, stdout, stderr)
sub run_tool {
    my (@args) = @_;
    my $stdin = ref $args[0] eq 'SCALAR' ? ${ shift @args } : undef;
    my $err = "$dir/stderr";
    my $pid = open my $out, '-|';
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>', $err or die "$err: $!";
        if (defined $stdin) {
            open STDIN, '<', $stdin or die "$stdin: $!";
        }
        { exec $tool, @args }
        print STDERR "$tool: $!\n";
        POSIX::_exit(127);
    }
    my $stdout = do { local $/; <$out> } // '';
    close $out;
    my $rc = $? >> 8;
    open my $eh, '<', $err or die "$err: $!";
    my $stderr = do { local $/; <$eh> } // '';
    return ($rc, $stdout, $stderr);
}

sub run_json {
    my ($rc, $out, $errs) = run_tool('--json', @_);
    my $report = eval { decode_json($out) };
    return ($rc, $report, $out);
}

ok(-x $tool, 'the tool is executable');

# --- everything completed: two partners, two currencies ------------------

my $all_ok = write_file('ok.log',
    sale('acme', '2026-11-30T10:00:00.000Z', '0.99', 'GBP', 'T-1'),
    sale('acme', '2026-11-30T10:01:00.000Z', '1.01', 'GBP', 'T-2'),
    sale('acme', '2026-11-30T10:02:00.000Z', '5.00', 'EUR', 'T-3'),
    sale('zeta', '2026-11-30T10:03:00.000Z', '0.10', 'GBP', 'T-4'),
    sale('zeta', '2026-11-30T10:04:00.000Z', '0.20', 'GBP', 'T-5'));

{
    my ($rc, $out) = run_tool($all_ok);
    is($rc, 0, 'all complete: exit 0');
    like($out, qr/^Sales in doubt: none$/m, 'nothing in doubt');
    like($out, qr/^\s+acme\s+EUR\s+1\s+5\.00$/m, 'acme EUR total');
    like($out, qr/^\s+acme\s+GBP\s+2\s+2\.00$/m,
         '0.99 + 1.01 is exactly 2.00');
    like($out, qr/^\s+zeta\s+GBP\s+2\s+0\.30$/m,
         '0.10 + 0.20 is exactly 0.30');
    like($out, qr/^reconciled:\ nothing\ in\ doubt;
                  \ 5\ completed\ sales,\ 0\ failed,/mx,
         'summary line');
    my @lines = split /\n/, $out;
    like($lines[-1], qr/^reconciled:/, 'the summary is the last line');
}

{
    my ($rc, $report) = run_json($all_ok);
    is($rc, 0, '--json: exit 0');
    ok($report, '--json output parses');
    is_deeply([sort keys %$report],
              [qw(failed in_doubt malformed refused replays totals)],
              '--json keys');
    is_deeply($report->{totals}, [
        { partner => 'acme', currency => 'EUR', sales => 1, amount => '5.00' },
        { partner => 'acme', currency => 'GBP', sales => 2, amount => '2.00' },
        { partner => 'zeta', currency => 'GBP', sales => 2, amount => '0.30' },
    ], '--json totals, amounts as decimal strings');
    is_deeply($report->{in_doubt}, [], '--json: nothing in doubt');
    is_deeply($report->{malformed}, [], '--json: nothing malformed');
}

# --- sales in doubt, failures, replays, refusals -------------------------

my ($lost, $doubt, $orphan, $fail, $replay, $ref1, $ref2)
    = map { new_id() } 1 .. 7;
my $mixed = write_file('mixed.log',
    sale('acme', '2026-11-30T11:00:00.000Z', '0.99', 'GBP', 'T-10'),
    intent($lost, 'acme', '2026-11-30T11:01:00.000Z', '1.49', 'GBP',
           transactionId => 'T-LOST'),
    intent($doubt, 'zeta', '2026-11-30T11:02:00.000Z', '2.49', 'EUR',
           transactionId => 'T-DOUBT'),
    outcome($doubt, 'zeta', '2026-11-30T11:02:30.000Z', 'in_doubt',
            upstream_status => undef,
            reason => 'upstream timed out after the request was sent'),
    outcome($orphan, 'zeta', '2026-11-30T11:03:00.000Z', 'completed',
            purchase_id => 'P-ORPHAN'),
    intent($fail, 'acme', '2026-11-30T11:04:00.000Z', '0.99', 'GBP',
           transactionId => 'T-FAIL'),
    outcome($fail, 'acme', '2026-11-30T11:04:01.000Z', 'failed',
            status => 402, upstream_status => 402,
            reason => 'upstream answered 402'),
    intent($replay, 'acme', '2026-11-30T11:05:00.000Z', '0.99', 'GBP',
           transactionId => 'T-10'),
    outcome($replay, 'acme', '2026-11-30T11:05:00.010Z', 'completed',
            sent => JSON::PP::false, replay => JSON::PP::true),
    refused($ref1, undef, '2026-11-30T11:06:00.000Z'),
    refused($ref2, 'zeta', '2026-11-30T11:07:00.000Z', status => 400,
            reason => 'missing transactionId'));

{
    my ($rc, $out) = run_tool($mixed);
    is($rc, 1, 'sales in doubt: exit 1');
    like($out, qr/^Sales in doubt: 3$/m, 'three sales in doubt');
    like($out, qr/^\s+2026-11-30T11:01:00\.000Z\s+$lost\s+acme\s+
                  user\/purchase\/item\s+transactionId=T-LOST\s+1\.49\sGBP\s+
                  no\ outcome\ recorded/mx,
         'intent without outcome listed with its fields and amount');
    like($out, qr/^\s+2026-11-30T11:02:00\.000Z\s+$doubt\s+zeta\s+.*
                  transactionId=T-DOUBT\s+2\.49\sEUR\s+
                  in\ doubt:\ upstream\ timed\ out\ after\ the\ request/mx,
         'outcome in_doubt listed with its reason');
    like($out, qr/^\s+2026-11-30T11:03:00\.000Z\s+$orphan\s+zeta\s+.*
                  purchase_id=P-ORPHAN\s.*outcome\ with\ no\ intent/mx,
         'orphan outcome listed');
    unlike($out, qr/$replay|$fail|T-10/, 'replay and failure not in doubt');
    like($out, qr/^\s+acme\s+GBP\s+1\s+0\.99$/m,
         'the replay and the orphan are not counted as sales');
    like($out, qr/^Failed: 1  Refused: 2  Replays: 1$/m,
         'failed, refused and replays counted');
    is((split /\n/, $out)[-1], 'NOT reconciled: 3 sales in doubt; '
       . '1 completed sale, 1 failed, 2 refused, 1 replay',
         'summary line names the problem');
}

{
    my ($rc, $report) = run_json($mixed);
    is($rc, 1, '--json: exit 1 too');
    is_deeply([map { $_->{id} } @{ $report->{in_doubt} }],
              [$lost, $doubt, $orphan], '--json in_doubt, in time order');
    is($report->{in_doubt}[0]{fields}{transactionId}, 'T-LOST',
       '--json in_doubt key fields');
    is($report->{in_doubt}[0]{amount}, '1.49', '--json in_doubt amount');
    is($report->{failed}, 1, '--json failed');
    is($report->{refused}, 2, '--json refused');
    is($report->{replays}, 1, '--json replays');
}

# --- --partner, --since, --until ------------------------------------------

{
    my ($rc, $report) = run_json('--partner', 'acme', $mixed, $all_ok);
    is($rc, 1, '--partner acme: still in doubt (the lost intent)');
    is_deeply([map { $_->{id} } @{ $report->{in_doubt} }], [$lost],
              '--partner acme: only acme in doubt');
    is_deeply([map { "$_->{partner} $_->{currency}" } @{ $report->{totals} }],
              ['acme EUR', 'acme GBP'], '--partner acme: only acme totals');
    is($report->{totals}[1]{amount}, '2.99', '--partner acme: GBP amount');
    is($report->{refused}, 0, '--partner acme: refusals of others left out');

    ($rc, $report) = run_json('--partner', 'zeta', $all_ok);
    is($rc, 0, '--partner zeta on complete sales: exit 0');
    is_deeply($report->{totals},
              [{ partner => 'zeta', currency => 'GBP', sales => 2,
                 amount => '0.30' }], '--partner zeta totals');
}

{
    my ($rc, $report) = run_json('--since', '2026-11-30T11:03:00Z',
                                 '--until', '2026-11-30T11:07:00Z', $mixed);
    is_deeply([map { $_->{id} } @{ $report->{in_doubt} }], [$orphan],
              '--since/--until: in doubt within the window');
    is($report->{refused}, 1, '--until excludes its own time');
    is($report->{replays}, 1, '--since/--until: the replay');
    ($rc, $report) = run_json('--until', '2026-11-30T11:01:00', $mixed);
    is($rc, 0, '--until before the first doubt: exit 0');
    is($report->{totals}[0]{sales}, 1, '--until: the first sale only');
}

# --- malformed lines --------------------------------------------------------

{
    my $bad = write_file('bad.log',
        sale('acme', '2026-11-30T12:00:00.000Z', '0.99', 'GBP', 'T-20'),
        "{\"v\":1,\"type\":\"intent\",\"id\":\"trunc\n",
        "\n",
        $json->encode({ v => 1, type => 'outcome',
                        time => '2026-11-30T12:00:01Z' }) . "\n",
        "not json at all\n");
    my ($rc, $out) = run_tool($bad);
    is($rc, 1, 'malformed lines: exit 1');
    like($out, qr/^Malformed lines: 3$/m, 'three malformed lines');
    like($out, qr/^  \Q$bad\E:3: not JSON$/m, 'a truncated line: file:line');
    like($out, qr/^  \Q$bad\E:5: no "id"$/m, 'a line without id: file:line');
    like($out, qr/^  \Q$bad\E:6: not JSON$/m, 'not JSON: file:line');
    like($out, qr/^\s+acme\s+GBP\s+1\s+0\.99$/m,
         'the readable records still reconcile');
    like($out, qr/^NOT reconciled: 3 malformed lines;/m, 'summary');

    my ($rc2, $report) = run_json($bad);
    is_deeply($report->{malformed}[1], { file => $bad, line => 5,
                                         error => 'no "id"' },
              '--json malformed entry');
}

# --- a sale split across rotated files, gzip, stdin -----------------------

{
    my $id = new_id();
    my $old = write_file('audit.log.1',
        sale('acme', '2026-11-30T23:58:00.000Z', '0.99', 'GBP', 'T-30'),
        intent($id, 'zeta', '2026-11-30T23:59:59.900Z', '1.01', 'GBP',
               transactionId => 'T-31'));
    my $new = write_file('audit.log',
        outcome($id, 'zeta', '2026-12-01T00:00:00.300Z', 'completed'));
    my ($rc, $out) = run_tool($new, $old);
    is($rc, 0, 'intent and outcome in two files: exit 0');
    like($out, qr/^\s+zeta\s+GBP\s+1\s+1\.01$/m, 'the split sale counted');
    ($rc) = run_tool($old);
    is($rc, 1, 'the older file alone: the intent is in doubt');

    my $gz = "$old.gz";
    gzip($old => $gz) or die "gzip: $GzipError";
    ($rc, $out) = run_tool($gz, $new);
    is($rc, 0, 'a rotated .gz file is read with gzip');
    like($out, qr/^\s+acme\s+GBP\s+1\s+0\.99$/m, '.gz sales counted');

    ($rc, $out) = run_tool(\$new, '-', $gz);
    is($rc, 0, '"-" reads the standard input');
    like($out, qr/^\s+zeta\s+GBP\s+1\s+1\.01$/m, 'stdin sales counted');
}

# --- usage and I/O errors --------------------------------------------------

{
    my $missing = "$dir/no-such-audit.log";
    my ($rc, $out, $err) = run_tool($all_ok, $missing);
    is($rc, 2, 'unreadable file: exit 2');
    like($err, qr/\Q$missing\E/, 'the unreadable file named on stderr');
    is($out, '', 'no report when a file cannot be read');

    ($rc, $out, $err) = run_tool("$dir");
    is($rc, 2, 'a directory: exit 2');

    ($rc, $out, $err) = run_tool();
    is($rc, 2, 'no file: exit 2');
    ($rc, $out, $err) = run_tool('--since', 'yesterday', $all_ok);
    is($rc, 2, 'a bad time: exit 2');
    like($err, qr/not an ISO 8601 time/, 'a bad time: message');

    ($rc, $out) = run_tool('--help');
    is($rc, 0, '--help: exit 0');
    like($out, qr/nightly/, '--help says it runs nightly');
    like($out, qr/exit status/, '--help gives the exit codes');
}

# --- the schema --------------------------------------------------------------

SKIP: {
    skip 'python3 has no jsonschema (Debian: python3-jsonschema)', 4
        if system('python3 -c "import jsonschema" >/dev/null 2>&1') != 0;

    my $check = <<'PY';
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
for number, line in enumerate(open(sys.argv[2]), 1):
    errors = list(validator.iter_errors(json.loads(line)))
    print("%d %s" % (number, "valid" if not errors else "invalid"))
PY
    my $id = new_id();
    my $cd = intent($id, 'acme', '2026-11-30T15:20:01.123Z', '500', 'points',
                    cdin => 'CD123', customerId => 'c1', orderId => 'O-1',
                    customerPostalCode => '***');
    $cd->{api} = 'choosedigital';
    $cd->{endpoint} = 'music/purchase';
    $cd->{idempotency_key} = 'k-1';
    $cd->{extra} = { anything => 1 };
    my @valid = (
        sale('acme', '2026-11-30T15:20:01.123Z', '0.99', 'GBP', 'T-40'),
        $cd,
        outcome($id, 'acme', '2026-11-30T15:20:02Z', 'in_doubt',
                upstream_status => undef,
                reason => 'upstream reset the connection'),
        refused(new_id(), undef, '2026-11-30T15:20:03.000Z'),
    );
    my @invalid = (
        do { my $r = outcome(new_id(), 'acme', '2026-11-30T15:20:04Z',
                             'completed'); delete $r->{result}; $r },
        do { my $r = intent(new_id(), 'acme', '2026-11-30T15:20:05Z');
             delete $r->{fields}; $r },
        intent(new_id(), undef, '2026-11-30T15:20:06Z'),
        do { my $r = refused(new_id(), 'acme', '2026-11-30T15:20:07Z');
             delete $r->{reason}; $r },
        intent(new_id(), 'acme', '2026-11-30T15:20:08Z', 0.99, 'GBP'),
        intent('NOT-HEX', 'acme', '2026-11-30T15:20:09Z'),
        outcome(new_id(), 'acme', '2026-11-30T15:20:10Z', 'done'),
    );
    my $records = write_file('schema.log', @valid, @invalid);
    my $script = "$dir/check.py";
    open my $fh, '>', $script or die "$script: $!";
    print $fh $check;
    close $fh;
    my $out = qx{python3 '$script' '$schema' '$records'};
    is($?, 0, 'the schema is a valid draft 2020-12 schema');
    my @results = map { (split / /)[1] } split /\n/, $out;
    is(scalar @results, @valid + @invalid, 'every sample checked');
    is_deeply([@results[0 .. $#valid]], [('valid') x @valid],
              'sample intent, outcome and refused records are valid');
    is_deeply([@results[@valid .. $#results]], [('invalid') x @invalid],
              'records missing their type\'s members or mistyped are invalid');
}

done_testing();
