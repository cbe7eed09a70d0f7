/* argv: the process interface. Prints argc and every argument (with
 * lengths, so empty and spaced arguments show), the CORPUS_* variables in
 * the order the environment holds them, getenv of set, empty and unset
 * variables, and the auxiliary vector's page size; then ends the way its
 * first argument says:
 *   return N   return N from main        exit N   exit(N) with stdout unflushed
 *   _exit N    _exit(N): stdout unflushed and lost
 * (N is taken modulo 256 by the kernel: 256 exits 0, -1 exits 255.)
 *
 * Rebuild: ./build.sh
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
	printf("argc %d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d] (%zu) [%s]\n", i, strlen(argv[i]), argv[i]);
	printf("argv[argc] is %s\n", argv[argc] == NULL ? "NULL" : "not NULL");
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "CORPUS_", 7) == 0)
			printf("env %s\n", *e);
	const char *names[] = {"CORPUS_GREETING", "CORPUS_EMPTY", "CORPUS_UNSET"};
	for (int i = 0; i < 3; i++) {
		const char *v = getenv(names[i]);
		printf("getenv %s = %s%s%s\n", names[i], v ? "[" : "", v ? v : "unset", v ? "]" : "");
	}
	setenv("CORPUS_NEW", "made here", 1);
	unsetenv("CORPUS_GREETING");
	printf("after setenv/unsetenv: %s, %s\n", getenv("CORPUS_NEW"), getenv("CORPUS_GREETING") ? "still set" : "gone");
	printf("page size %lu, sysconf %ld\n", getauxval(AT_PAGESZ), sysconf(_SC_PAGESIZE));

	if (argc < 3)
		return 0;
	int code = atoi(argv[2]);
	if (strcmp(argv[1], "exit") == 0) {
		printf("calling exit(%d)\n", code);
		exit(code);
	}
	if (strcmp(argv[1], "_exit") == 0) {
		printf("this line is lost: _exit does not flush stdio\n");
		fflush(stderr);
		_exit(code);
	}
	printf("returning %d\n", code);
	return code;
}
