/* The bench's timer: runs a command and writes its wall-clock time (CLOCK_MONOTONIC, in
 * seconds with millisecond resolution) and its peak resident set (KB, from wait4) to a
 * file, like GNU time -f "%e %M" -o FILE, whose %e is cut to 10 ms: too coarse for
 * restores that take 0.1-0.2 s.
 *
 *   stopwatch FILE CMD [ARG...]    writes "<seconds> <maxrss_kb>\n" to FILE and exits
 *                                  with CMD's status (128 + signal if it was killed) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: stopwatch FILE CMD [ARG...]\n");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("stopwatch: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("stopwatch: exec");
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("stopwatch: wait4");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	FILE *f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%.3f %ld\n", s, ru.ru_maxrss) < 0 || fclose(f) != 0) {
		perror("stopwatch: writing the result");
		return 2;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
