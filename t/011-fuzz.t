# A short libFuzzer run (AddressSanitizer and UndefinedBehaviorSanitizer)
# over every parser of client input; `make fuzz FUZZ_SECONDS=600` runs it
# longer.  A crash leaves its input in build/ and fails this test.
use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
my $seconds = $ENV{TEST_FUZZ_SECONDS} // 15;

plan skip_all => 'clang is not installed' unless -x '/usr/bin/clang';

my $out = `make -s -C $root fuzz FUZZ_SECONDS=$seconds 2>&1`;
my $rc = $? >> 8;

is($rc, 0, "no crash, leak or undefined behaviour in $seconds s of fuzzing")
    or diag(join "\n", (split /\n/, $out)[-30 .. -1]);
like($out, qr/Done \d+ runs/, 'the fuzzer ran');

done_testing();
