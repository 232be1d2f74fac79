# A short libFuzzer run of every target in t/fuzz (AddressSanitizer and
# UndefinedBehaviorSanitizer, any report a crash): each on its corpus in
# t/fuzz/corpus and for TEST_FUZZ_SECONDS (3 by default) of mutations.
# `make fuzz FUZZ_SECONDS=60` runs them longer, `make fuzz-long` for 10^7
# executions or 10 minutes each.  A crash leaves its input in build/fuzz/
# and fails this test.
use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
my $seconds = $ENV{TEST_FUZZ_SECONDS} // 3;
my @targets = map { m{fuzz_(\w+)\.c$} ? $1 : () }
              glob "$root/t/fuzz/fuzz_*.c";

plan skip_all => 'clang is not installed' unless -x '/usr/bin/clang';

my $out = `make -s -C $root fuzz FUZZ_SECONDS=$seconds 2>&1`;
my $rc = $? >> 8;

is($rc, 0, "no crash, leak, undefined behaviour or broken invariant in "
           . "$seconds s of fuzzing each")
    or diag($out);

for my $t (@targets) {
    like($out, qr/^\Q$t\E +[1-9]\d* +\d+ +\d+ +\d+  no crash$/m,
         "$t: the fuzzer ran, no crash");
}

ok(@targets >= 8, 'a target per parser');

done_testing();
