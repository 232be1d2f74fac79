# Unit tests of the pure C functions (t/unit/unit.c), built without nginx;
# the program prints TAP itself.
use strict;
use warnings;
use FindBin;

my $root = "$FindBin::Bin/..";
system('make', '-s', '-C', $root, 'unit') == 0
    or die "cannot build the unit tests\n";
exec "$root/build/unit" or die "cannot run the unit tests: $!\n";
