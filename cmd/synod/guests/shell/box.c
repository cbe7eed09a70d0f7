/* box: a small shell and the tools its pipelines run, in one static
 * program that acts by the name it is started under (as BusyBox does), so
 * that one binary fills a guest's /bin. The example of a guest of many
 * processes: every pipeline forks, execs the tools from the guest's root
 * file system, connects them with pipes and waits for them.
 *
 *   sh -l PORT        serve a shell on TCP PORT: each connection gets its
 *                     own shell process (forked), reading command lines
 *                     and answering with the commands' output and a "$ "
 *                     prompt
 *   sh -c 'LINE'      run one command line
 *   sh FILE           run FILE's lines (so "#!/bin/sh" scripts run)
 *
 * A command line is words separated by blanks, with 'single' or "double"
 * quotes, the operators | < > >> and 2>&1, and # comments. Builtins: cd,
 * exit. Other commands run from $PATH (default /bin).
 *
 * Tools: echo ARGS, cat [FILE...], seq [FIRST] LAST, upper (letters to
 * capitals), wc [-l], grep TEXT (lines holding TEXT), head [-n N], sort,
 * sum (adds the first number of every line), true, false.
 *
 * Rebuild (root/bin/box; the other names in root/bin are links to it):
 *   hppa-linux-gnu-gcc -O2 -Wall -Wextra -Wno-unused-parameter -static -s -o root/bin/box box.c
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LINE 4096
#define MAX_WORDS 128
#define MAX_STAGES 16

/* ---- tools ---- */

static int tool_echo(int argc, char **argv) {
	for (int i = 1; i < argc; i++)
		printf("%s%s", argv[i], i + 1 < argc ? " " : "");
	printf("\n");
	return 0;
}

static int copy_stream(FILE *in) {
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, stdout) != n)
			return 1;
	return 0;
}

static int tool_cat(int argc, char **argv) {
	if (argc < 2)
		return copy_stream(stdin);
	int status = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");
		if (!f) {
			fprintf(stderr, "cat: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		status |= copy_stream(f);
		fclose(f);
	}
	return status;
}

static int tool_seq(int argc, char **argv) {
	long first = 1, last;
	if (argc == 2) {
		last = atol(argv[1]);
	} else if (argc == 3) {
		first = atol(argv[1]);
		last = atol(argv[2]);
	} else {
		fprintf(stderr, "usage: seq [FIRST] LAST\n");
		return 2;
	}
	for (long i = first; i <= last; i++)
		printf("%ld\n", i);
	return 0;
}

static int tool_upper(int argc, char **argv) {
	int c;
	while ((c = getchar()) != EOF)
		putchar(toupper(c));
	return 0;
}

static int tool_wc(int argc, char **argv) {
	long lines = 0, words = 0, bytes = 0;
	int c, inword = 0;
	while ((c = getchar()) != EOF) {
		bytes++;
		if (c == '\n')
			lines++;
		if (isspace(c))
			inword = 0;
		else if (!inword) {
			inword = 1;
			words++;
		}
	}
	if (argc > 1 && strcmp(argv[1], "-l") == 0)
		printf("%ld\n", lines);
	else
		printf("%ld %ld %ld\n", lines, words, bytes);
	return 0;
}

static int tool_grep(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: grep TEXT\n");
		return 2;
	}
	char line[MAX_LINE];
	int found = 0;
	while (fgets(line, sizeof line, stdin))
		if (strstr(line, argv[1])) {
			fputs(line, stdout);
			found = 1;
		}
	return found ? 0 : 1;
}

static int tool_head(int argc, char **argv) {
	long n = 10;
	if (argc == 3 && strcmp(argv[1], "-n") == 0)
		n = atol(argv[2]);
	char line[MAX_LINE];
	for (long i = 0; i < n && fgets(line, sizeof line, stdin); i++)
		fputs(line, stdout);
	return 0;
}

static int compare_lines(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int tool_sort(int argc, char **argv) {
	size_t n = 0, cap = 1024;
	char **lines = malloc(cap * sizeof *lines);
	char line[MAX_LINE];
	while (lines && fgets(line, sizeof line, stdin)) {
		if (n == cap) {
			cap *= 2;
			lines = realloc(lines, cap * sizeof *lines);
			if (!lines)
				break;
		}
		lines[n] = strdup(line);
		if (!lines[n++])
			return 1;
	}
	if (!lines) {
		fprintf(stderr, "sort: out of memory\n");
		return 1;
	}
	qsort(lines, n, sizeof *lines, compare_lines);
	for (size_t i = 0; i < n; i++)
		fputs(lines[i], stdout);
	return 0;
}

static int tool_sum(int argc, char **argv) {
	char line[MAX_LINE];
	long long total = 0;
	while (fgets(line, sizeof line, stdin))
		total += atoll(line);
	printf("%lld\n", total);
	return 0;
}

/* ---- the shell ---- */

struct stage {
	char *argv[MAX_WORDS];
	int argc;
	char *in, *out;   /* redirections, or NULL */
	int append;       /* >> rather than > */
	int err_to_out;   /* 2>&1 */
};

/* split breaks line into words and operators, copied into wordbuf;
 * operators come back as the strings "|", "<", ">", ">>" and "2>&1",
 * marked by ops[i]. */
static char wordbuf[2 * MAX_LINE];

static int split(const char *p, char **words, int *ops) {
	int n = 0;
	char *out = wordbuf;
	while (*p) {
		while (*p && strchr(" \t\r\n", *p))
			p++;
		if (!*p || *p == '#')
			break;
		if (n == MAX_WORDS - 1)
			return -1;
		ops[n] = 1;
		if (strncmp(p, "2>&1", 4) == 0) {
			words[n++] = "2>&1";
			p += 4;
		} else if (*p == '|' || *p == '<') {
			words[n++] = *p++ == '|' ? "|" : "<";
		} else if (*p == '>') {
			int append = p[1] == '>';
			words[n++] = append ? ">>" : ">";
			p += append ? 2 : 1;
		} else {
			ops[n] = 0;
			words[n++] = out;
			while (*p && !strchr(" \t\r\n|<>", *p)) {
				if (*p == '\'' || *p == '"') {
					char q = *p++;
					while (*p && *p != q)
						*out++ = *p++;
					if (!*p)
						return -1;
					p++;
				} else {
					*out++ = *p++;
				}
			}
			*out++ = 0;
		}
	}
	words[n] = NULL;
	return n;
}

/* parse turns words into pipeline stages; -1 on a syntax error. */
static int parse(char **words, int *ops, int n, struct stage *stages) {
	int s = 0;
	memset(&stages[0], 0, sizeof stages[0]);
	for (int i = 0; i < n; i++) {
		struct stage *st = &stages[s];
		if (!ops[i]) {
			st->argv[st->argc++] = words[i];
			continue;
		}
		const char *op = words[i];
		if (strcmp(op, "|") == 0) {
			if (st->argc == 0 || ++s == MAX_STAGES)
				return -1;
			memset(&stages[s], 0, sizeof stages[s]);
		} else if (strcmp(op, "2>&1") == 0) {
			st->err_to_out = 1;
		} else {
			if (i + 1 >= n || ops[i + 1])
				return -1;
			char *file = words[++i];
			if (op[0] == '<') {
				st->in = file;
			} else {
				st->out = file;
				st->append = op[1] == '>';
			}
		}
	}
	if (stages[s].argc == 0)
		return n == 0 ? 0 : -1;
	return s + 1;
}

/* child_run sets up one stage's descriptors in the forked child and
 * execs it; it returns only on failure. */
static void child_run(struct stage *st, int in, int out) {
	if (in != 0) {
		dup2(in, 0);
		close(in);
	}
	if (out != 1) {
		dup2(out, 1);
		close(out);
	}
	if (st->in) {
		int fd = open(st->in, O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "sh: %s: %s\n", st->in, strerror(errno));
			_exit(1);
		}
		dup2(fd, 0);
		close(fd);
	}
	if (st->out) {
		int fd = open(st->out, O_WRONLY | O_CREAT | (st->append ? O_APPEND : O_TRUNC), 0644);
		if (fd < 0) {
			fprintf(stderr, "sh: %s: %s\n", st->out, strerror(errno));
			_exit(1);
		}
		dup2(fd, 1);
		close(fd);
	}
	if (st->err_to_out)
		dup2(1, 2);
	st->argv[st->argc] = NULL;
	execvp(st->argv[0], st->argv);
	fprintf(stderr, "sh: %s: %s\n", st->argv[0], strerror(errno));
	_exit(127);
}

/* run_line runs one command line and returns its exit status. */
static int run_line(char *line) {
	char *words[MAX_WORDS];
	int ops[MAX_WORDS];
	struct stage stages[MAX_STAGES];
	int n = split(line, words, ops);
	int count = n < 0 ? -1 : parse(words, ops, n, stages);
	if (count < 0) {
		fprintf(stderr, "sh: syntax error\n");
		return 2;
	}
	if (count == 0)
		return 0;
	char **argv = stages[0].argv;
	if (count == 1 && strcmp(argv[0], "cd") == 0) {
		if (chdir(stages[0].argc > 1 ? argv[1] : "/") != 0) {
			fprintf(stderr, "sh: cd: %s\n", strerror(errno));
			return 1;
		}
		return 0;
	}
	if (count == 1 && strcmp(argv[0], "exit") == 0)
		exit(stages[0].argc > 1 ? atoi(argv[1]) : 0);

	fflush(stdout);
	pid_t pids[MAX_STAGES];
	int in = 0;
	for (int i = 0; i < count; i++) {
		int fds[2] = {-1, 1};
		if (i + 1 < count && pipe(fds) != 0) {
			fprintf(stderr, "sh: pipe: %s\n", strerror(errno));
			return 1;
		}
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "sh: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pids[i] == 0) {
			if (fds[0] >= 0)
				close(fds[0]);
			child_run(&stages[i], in, fds[1]);
		}
		if (in != 0)
			close(in);
		if (i + 1 < count) {
			close(fds[1]);
			in = fds[0];
		}
	}
	int status = 0;
	for (int i = 0; i < count; i++) {
		int st;
		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (i == count - 1)
			status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	return status;
}

/* run_stream runs the lines of in; with a prompt after each when prompt. */
static int run_stream(FILE *in, int prompt) {
	char line[MAX_LINE];
	int status = 0;
	if (prompt) {
		printf("$ ");
		fflush(stdout);
	}
	while (fgets(line, sizeof line, in)) {
		status = run_line(line);
		if (prompt) {
			printf("$ ");
			fflush(stdout);
		}
	}
	return status;
}

/* serve accepts connections on port, each served by a forked shell whose
 * standard input, output and error are the connection. */
static int serve(int port) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 16) != 0) {
		fprintf(stderr, "sh: listen on %d: %s\n", port, strerror(errno));
		return 1;
	}
	signal(SIGCHLD, SIG_IGN); /* sessions are reaped by the kernel */
	printf("sh: listening on port %d\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "sh: accept: %s\n", strerror(errno));
			return 1;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(s);
			signal(SIGCHLD, SIG_DFL);
			dup2(c, 0);
			dup2(c, 1);
			dup2(c, 2);
			close(c);
			exit(run_stream(stdin, 1));
		}
		if (pid < 0)
			fprintf(stderr, "sh: fork: %s\n", strerror(errno));
		close(c);
	}
}

static int shell_main(int argc, char **argv) {
	setenv("PATH", getenv("PATH") ? getenv("PATH") : "/bin", 0);
	if (argc == 3 && strcmp(argv[1], "-l") == 0)
		return serve(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "-c") == 0)
		return run_line(argv[2]);
	if (argc == 2) {
		FILE *f = fopen(argv[1], "r");
		if (!f) {
			fprintf(stderr, "sh: %s: %s\n", argv[1], strerror(errno));
			return 127;
		}
		return run_stream(f, 0);
	}
	return run_stream(stdin, 0);
}

static int tool_true(int argc, char **argv) { return 0; }
static int tool_false(int argc, char **argv) { return 1; }

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} tools[] = {
	{"sh", shell_main},      {"echo", tool_echo},       {"cat", tool_cat},
	{"seq", tool_seq},       {"upper", tool_upper}, {"wc", tool_wc},
	{"grep", tool_grep},     {"head", tool_head},       {"sort", tool_sort},
	{"sum", tool_sum},  {"true", tool_true},       {"false", tool_false},
};

static int tool_main(int argc, char **argv) {
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(name, "box") == 0 && argc > 1)
		return tool_main(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
		if (strcmp(name, tools[i].name) == 0)
			return tools[i].main(argc, argv);
	fprintf(stderr, "box: no tool named %s (sh echo cat seq upper wc grep head sort sum true false)\n", name);
	return 127;
}

int main(int argc, char **argv) {
	return tool_main(argc, argv);
}
