# The tutorials' shared-state examples: Value/Array, Lock, Semaphore.
set(RANKS4 "Process-1 ran on rank [1-4] .*Process-2 ran on rank [1-4] .*Process-3 ran on rank [1-4] .*Process-4 ran on rank [1-4] ")
mpmp_example_test(value_array 5 "${RANKS4}.*\n4\n\\[4\\.0, 5\\.0, 6\\.0\\]\n")
mpmp_example_test(lock_counter 5 "${RANKS4}.*\n40000\n")
mpmp_example_test(shared_counter_array_lock 5
  "Initial shared array: \\[10, 20, 30, 40\\].*${RANKS4}.*Final shared counter: 20\nFinal shared array: \\[30, 40, 50, 60\\]")
mpmp_example_test(semaphore_limit 6
  "${RANKS4}.*Process-5 ran on rank [1-5] .*at most 2 processes held the resource at once")
# value_counter: its workers' lines come from other ranks than the final
# line, in any order: examples_ipc.cmake checks it.
mpmp_example_test(first_program 2 "(^|\n)285\n")
# With one rank there is no worker: the README's program says so and
# exits with 1 (it crashed on the result it never got; helper 71).
mpmp_example_test(first_program 1
  "(^|\n)no free worker rank: [^\n]*start the job with more ranks \\(mpirun -n 2\\)\n")
