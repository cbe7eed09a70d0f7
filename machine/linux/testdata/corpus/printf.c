/* printf: formatted input and output. printf of doubles with every
 * conversion (%f %e %g %a and their capitals), flags, widths and
 * precisions, including %.400f and the extremes (subnormals, DBL_MAX,
 * infinities, NaNs, -0); integers of every length modifier (hh h l ll j z
 * t) in every base; * widths and precisions, positional arguments, %n of
 * every size, snprintf truncation, asprintf, wide strings; the scanf
 * family on integers, floats (hex, inf, nan), scansets and %n; and
 * strtol/strtoul/strtoll/strtoull/strtod/strtof edge cases (overflow to
 * ERANGE, bases 0 to 36, the end pointer), with a round trip of 2000
 * doubles through %.17g and %a.
 *
 * Rebuild: ./build.sh
 */
#define _GNU_SOURCE
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "corpus.h"

static volatile double doubles[] = {0.0, -0.0, 1.0, -2.5, 0.1, 1.5, 123456789.123456789, 1e-310, 4.9e-324, DBL_MIN, DBL_MAX,
				    1e21, 9.999999999999999e22, 1.0 / 3.0, 0.000123456, 65536.0};
static const char *double_formats[] = {"%f", "%e", "%g", "%a", "%E", "%G", "%A", "%.0f", "%.0e", "%.1f", "%.3e", "%.10g",
				       "%.17g", "%#.0f", "%#g", "%+f", "% e", "%-12.3f|", "%012.4f", "%+015.6e", "%.30e", "%.3a", "%20.10a",
				       "%.400f"};

static void doubles_out(void) {
	char buf[1024];
	for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
		for (size_t j = 0; j < sizeof double_formats / sizeof double_formats[0]; j++) {
			int n = snprintf(buf, sizeof buf, double_formats[j], doubles[i]);
			if (n > 60) /* long expansions: a checksum and the head */
				printf("%s(%zu) %d chars %08x %.24s...\n", double_formats[j], i, n, fnv1a(FNV_INIT, buf, n), buf);
			else
				printf("%s(%zu) [%s] %d\n", double_formats[j], i, buf, n);
		}
	}
	double special[] = {INFINITY, -INFINITY, NAN, -NAN};
	for (int i = 0; i < 4; i++)
		printf("[%f] [%e] [%g] [%a] [%F] [%E] [%G] [%A] [%10f] [%-10e] [%+g] [% a] [%010f]\n", special[i], special[i],
		       special[i], special[i], special[i], special[i], special[i], special[i], special[i], special[i],
		       special[i], special[i], special[i]);
	long double ld = 1.0L / 3;
	printf("long double %La %Lg (sizeof %zu)\n", ld, ld, sizeof ld);
}

static void integers_out(void) {
	long long values[] = {0, 1, -1, 127, -128, 32767, -32768, 2147483647, -2147483648LL, 4294967295LL, INT64_MAX, INT64_MIN,
			      -999999999999LL, 0x123456789abcdefLL};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		long long v = values[i];
		printf("%lld %llu %llx %llX %llo %#llx %#llo %20lld|%-20lld|%+lld % lld %020lld %.25lld %hhd %hd %hhu %hu %jd %" PRId64 "\n",
		       v, (unsigned long long)v, v, v, v, v, v, v, v, v, v, v, v, (signed char)v, (short)v, (unsigned char)v,
		       (unsigned short)v, (intmax_t)v, (int64_t)v);
		printf("%d %u %x %o %#x %#o %i %ld %lu %zu %zd %tx %5.3d|%-5.3d|%.0d|%+.0d|%#.0o|\n", (int)v, (unsigned)v, (unsigned)v,
		       (unsigned)v, (unsigned)v, (unsigned)v, (int)v, (long)v, (unsigned long)v, (size_t)v, (ssize_t)v, (ptrdiff_t)v,
		       (int)v, (int)v, (int)v & 1, (int)v & 1, (unsigned)v & 1);
	}
}

static void other_out(void) {
	for (int width = -12; width <= 12; width += 8)
		for (int prec = -1; prec <= 6; prec += 7)
			printf("[%*.*f] [%*.*s] [%*d] [%-*.*e]\n", width, prec, 3.14159, width, prec, "abcdefgh", width, 42, width, prec,
			       -0.000271828);
	printf("%2$s %1$s %3$d %2$s\n", "world", "hello", 7);
	printf("%3$*1$.*2$f|\n", 12, 3, 2.0 / 7);
	printf("[%s] [%10s] [%-10s] [%.2s] [%c] [%5c] [%-5c] [%%] [%lc] [%ls]\n", "str", "str", "str", "str", 'x', 'y', 'z', (wint_t)L'w',
	       L"wide");
	int n = 0;
	short hn = 0;
	signed char hhn = 0;
	long long lln = 0;
	printf("abc%ndef%hnghi%hhnjkl%lln\n", &n, &hn, &hhn, &lln);
	printf("%%n: %d %d %d %lld\n", n, hn, hhn, lln);
	printf("[%p] [%p]\n", (void *)0, (void *)0x1234);
	char buf[32];
	const char *volatile truncated = "%d-%s-%g"; /* out of sight of -Wformat-truncation */
	for (size_t size = 0; size < 12; size += 3) {
		memset(buf, '#', sizeof buf);
		int r = snprintf(buf, size, truncated, 12345, "abcdef", 1.5);
		buf[sizeof buf - 1] = 0;
		printf("snprintf(%zu) = %d [%.*s]\n", size, r, (int)size, buf);
	}
	char *s;
	int r = asprintf(&s, "%0*d|%.*s", 30, -77, 3, "xyzzy");
	printf("asprintf %d %s\n", r, s);
	free(s);
	wchar_t wbuf[64];
	swprintf(wbuf, 64, L"%d %ls %5.2f", 5, L"ab", 2.345);
	printf("swprintf %ls\n", wbuf);
}

static void scanning(void) {
	long long ll = 0;
	int i1 = 0, i2 = 0, i3 = 0;
	double d1 = 0, d2 = 0;
	char w1[32] = "", w2[32] = "";
	int k = sscanf("42 -17 0x1f 0777 3.5e2 hello 1e-3", "%lld %d %x %o %lf %31s %lf", &ll, &i1, &i2, &i3, &d1, w1, &d2);
	printf("sscanf %d: %lld %d %d %d %.17g %s %.17g\n", k, ll, i1, i2, i3, d1, w1, d2);
	k = sscanf("0x1f 010 -0x10 junk", "%i %i %i %i", &i1, &i2, &i3, &i1);
	printf("sscanf %%i %d: %d %d %d\n", k, i1, i2, i3);
	k = sscanf("  +12abc -inf nan(123) x", "%d%3s %lf %lf %1s", &i1, w1, &d1, &d2, w2);
	printf("sscanf %d: %d %s %g %g %s\n", k, i1, w1, d1, d2, w2);
	double g[5] = {0};
	k = sscanf("1.0e400 2.0e-400 0x1.8p3 .5 5.", "%lf %lf %la %lf %lf", &g[0], &g[1], &g[2], &g[3], &g[4]);
	printf("sscanf %d: %a %a %a %a %a\n", k, g[0], g[1], g[2], g[3], g[4]);
	unsigned long long ull = 0;
	k = sscanf("18446744073709551615 -9223372036854775808 1,2,3 [abc] %", "%llu %lld %d,%d,%d [%31[a-z]] %%", &ull, &ll, &i1, &i2,
		   &i3, w1);
	printf("sscanf %d: %llu %lld %d %d %d %s\n", k, ull, ll, i1, i2, i3, w1);
	int n1 = 0, n2 = 0;
	float f = 0;
	unsigned char hh = 0;
	k = sscanf("key=value;rest 3.25 300", "%15[^=]=%15[^;];%n%*s%n %f %hhu", w1, w2, &n1, &n2, &f, &hh);
	printf("sscanf %d: %s %s %d %d %a %u\n", k, w1, w2, n1, n2, f, hh);
}

static void conversions(void) {
	static const char *ints[] = {"0", "-0", "+5", "  42xyz", "0x1F", "0X", "077", "08", "2147483648", "-2147483649",
				     "4294967296", "9223372036854775808", "-9223372036854775809", "18446744073709551616", "-1",
				     "", "zz", "-0x8000000000000000"};
	static const int bases[] = {0, 10, 16, 8, 2, 36};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		printf("[%s]", ints[i]);
		for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
			char *end;
			errno = 0;
			long l = strtol(ints[i], &end, bases[b]);
			int e1 = errno;
			long used = end - ints[i];
			errno = 0;
			unsigned long long ull = strtoull(ints[i], &end, bases[b]);
			int e2 = errno;
			errno = 0;
			long long ll = strtoll(ints[i], NULL, bases[b]);
			printf(" b%d:%ld/%d/%ld,%llu/%d,%lld/%d", bases[b], l, e1, used, ull, e2, ll, errno);
		}
		printf("\n");
	}
	static const char *reals[] = {"-0", "1e309", "-1e309", "2.2250738585072011e-308", "4.9406564584124654e-324",
				      "2.4703282292062327e-324", "2.4703282292062328e-324", "1e-400", "0x1p-1074", "0x1p1024",
				      "-INF", "infinity", "NAN(0x123)", "  .5e+2x", "1.", ".e1", "0x.8p1", "1e+",
				      "123456789012345678901234567890", "0.30000000000000004", "1.7976931348623159e308", "3.4028236e38",
				      "1e-45", "7e-46", "9007199254740993", "1,5"};
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		char *end;
		errno = 0;
		double d = strtod(reals[i], &end);
		int e1 = errno;
		long used = end - reals[i];
		errno = 0;
		float f = strtof(reals[i], NULL);
		printf("[%s] strtod %a errno %d used %ld, strtof %a errno %d\n", reals[i], d, e1, used, f, errno);
	}
	uint32_t h = FNV_INIT;
	double x = 1.0;
	int failures = 0;
	for (int i = 0; i < 2000; i++) {
		char buf[64];
		x = x * 1.37 + 1e-3 * i;
		if (x > 1e300)
			x = 1e-300 * i;
		snprintf(buf, sizeof buf, "%.17g", x);
		failures += strtod(buf, NULL) != x;
		snprintf(buf, sizeof buf, "%a", x);
		failures += strtod(buf, NULL) != x;
		int n = snprintf(buf, sizeof buf, "%.9g", (float)x);
		h = fnv1a(h, buf, n);
	}
	printf("round trips: %d failures, %%.9g checksum %08x\n", failures, h);
}

int main(void) {
	doubles_out();
	integers_out();
	other_out();
	scanning();
	conversions();
	fprintf(stderr, "stderr %d %s %.3f\n", 1, "two", 3.0);
	return 0;
}
