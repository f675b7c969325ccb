/* A real UndefinedBehaviorSanitizer report from a program that then goes
 * on and exits with 0 (it is built to recover from UBSan's findings), for
 * the test sanitizer_report_fails_test: a sanitizer report in a test's
 * output must fail the test whatever the exit status (cmake/mpmpTesting.cmake,
 * mpmp__sanitize_tests). */
#include <limits.h>
#include <stdio.h>

int main(int argc, char **argv) {
  (void)argv;
  int big = INT_MAX - 1 + argc; /* INT_MAX, unknown to the compiler */
  int sum = big + 1;            /* signed overflow: UBSan reports it */
  printf("sum %d\ndone: exit 0\n", sum);
  return 0;
}
