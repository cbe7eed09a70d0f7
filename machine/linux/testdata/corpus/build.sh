#!/bin/sh
# build.sh rebuilds the corpus binaries from their C sources with Debian's
# cross compiler (apt-get install gcc-hppa-linux-gnu). Every program is
# built static and stripped at -O2 (binary <name>); the programs listed in
# LEVELS are also built at other levels (binary <name>-O<level>), because
# GCC's output differs a lot between -O0 and -O3. The programs in PA20 are
# also built with -O3 -march=2.0 (binary <name>-pa20), for the PA-RISC 2.0
# instructions qemu-hppa runs in its 32-bit user mode.
#
#   ./build.sh             rebuild everything
#   ./build.sh fp arith    rebuild these programs only
#
# After a rebuild, record the goldens again from qemu-hppa:
#   go test ./cmd/synod -run TestCorpus -update
set -eu
cd "$(dirname "$0")"

CC=${CC:-hppa-linux-gnu-gcc}
CFLAGS="-Wall -Wextra -Wno-unused-parameter -Werror -static -s -pthread"

# Extra optimisation levels per program.
LEVELS="arith:0,1,3 bits:0,3 fp:0,3 switch:0,3 setjmp:0 funcptr:0 lang:0,3"
PA20="mathlib"

build() { # program level output [flags...]
	p=$1 level=$2 out=$3
	shift 3
	echo "$CC -O$level $* $CFLAGS -o $out $p.c -lm"
	$CC -O"$level" "$@" $CFLAGS -o "$out" "$p.c" -lm
}

programs="$*"
if [ -z "$programs" ]; then
	programs=$(ls ./*.c | sed 's|^\./||; s|\.c$||')
fi

for p in $programs; do
	build "$p" 2 "$p"
	for entry in $LEVELS; do
		[ "${entry%%:*}" = "$p" ] || continue
		for level in $(echo "${entry#*:}" | tr , ' '); do
			build "$p" "$level" "$p-O$level"
		done
	done
	for pa20 in $PA20; do
		[ "$pa20" = "$p" ] && build "$p" 3 "$p-pa20" -march=2.0
	done
done
