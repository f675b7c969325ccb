# The tutorials' Pool, executor and timing examples (apps/examples/pool_*,
# executor_*, parallel_vs_serial). Each test checks the figures the Python
# prints, and that the items were shared: every program counts the distinct
# worker ranks named in its results (each task hands back the rank that
# computed it) and prints "items were computed by N different ranks".
#
# Worker ranks print their "Now Process <pid> (rank r) | ..." lines
# themselves, and mpirun forwards each rank's output on its own, so such a
# line may land between the main rank's lines: POOL_W allows for that.
set(POOL_W "(Now Process [0-9]+ \\(rank [0-9]+\\) \\|[^\n]*\n)*")
set(POOL_SHARED "items were computed by ([2-9]|[1-9][0-9]+) different ranks\n")
set(POOL_SQ9 "\\[1, 4, 9, 16, 25, 36, 49, 64, 81\\]")
set(POOL_SQ10 "\\[0, 1, 4, 9, 16, 25, 36, 49, 64, 81\\]")
set(POOL_XY9 "\\[9, 16, 21, 24, 25, 24, 21, 16, 9\\]")

# mp1.py: Pool(4).map, then Pool() and a pool closed and joined by hand
mpmp_example_test(pool_map_squares 5
  "Partial results: ${POOL_SQ9}\n${POOL_W}Total sum of squares: 285\n${POOL_W}Done\n${POOL_W}${POOL_SHARED}.*Pool\\(\\) has 4 workers: ${POOL_SQ9}\n.*Pool\\(4\\), closed by hand: ${POOL_SQ9}\n")

# mp2.py: starmap over zip(x, x[::-1])
mpmp_example_test(pool_starmap 4
  "Partial results: ${POOL_XY9}\n${POOL_W}Total sum of squares: 165\n${POOL_W}Done\n${POOL_W}${POOL_SHARED}")

# map_async/starmap_async(...).get() over zip(x, x) and zip(x, y)
mpmp_example_test(pool_map_async 4
  "p1: ${POOL_SQ9}\n${POOL_W}p2: ${POOL_XY9}\n.*p1 \\(delayed get\\): ${POOL_SQ9}\n${POOL_W}p2 \\(delayed get\\): ${POOL_XY9}\n${POOL_W}${POOL_SHARED}")

# mp3.py with 0.2 s per item: 9 items on Pool(4) take three rounds (0.6 s),
# one after the other 1.8 s. The main rank sleeps while it waits: its CPU
# time during the parallel map stays under 20 % of the wall time.
mpmp_example_test(parallel_vs_serial 5
  "Time for Parallel Processing: (0\\.[6-9][0-9]*|[1-9][0-9]*\\.[0-9]+) seconds\nTime for Sequential Processing: (1\\.[89][0-9]*|[2-9]\\.[0-9]+|[1-9][0-9]+\\.[0-9]+) seconds\nresults agree\nSpeed-up: ([2-9]|[1-9][0-9]+)\\.[0-9]x\nmain rank CPU time during the parallel map: 1?[0-9]\\.[0-9]% of its wall time\n${POOL_SHARED}"
  0.2)

# Pool(4): map(square, range(10)), then map_async(...).get(timeout=10)
mpmp_example_test(pool_map_async_get 5
  "map: ${POOL_SQ10}\nmap_async\\(\\.\\.\\.\\)\\.get\\(timeout=10\\): ${POOL_SQ10}\n${POOL_SHARED}")

# apply(compute, (1, 2)) and apply_async(...).get(): two single calls, which
# may run on the same worker; both must run on a worker rank, not rank 0.
mpmp_example_test(pool_apply 5
  "apply: 3 \\(Process [0-9]+, rank [1-4]\\)\napply_async\\(\\.\\.\\.\\)\\.get\\(\\): 3 \\(Process [0-9]+, rank [1-4]\\)\n")

# starmap(multiply, [(1, 2), (3, 4), (5, 6)])
mpmp_example_test(pool_starmap_pairs 4 "\\[2, 12, 30\\]\n${POOL_SHARED}")

# imap and imap_unordered over range(1000000): count, sum, order
mpmp_example_test(pool_imap 4
  "imap: 1000000 results, sum 333332833333500000, all in order\nimap_unordered: 1000000 results, sum 333332833333500000\n${POOL_SHARED}")

# The small Pool(4).map examples: squares, and x * 2 over range(10)
mpmp_example_test(pool_square 5
  "Squared Results: \\[1, 4, 9, 16, 25\\]\n\\[1, 4, 9, 16\\]\n${POOL_SHARED}")
mpmp_example_test(pool_process_data 5
  "\\[0, 2, 4, 6, 8, 10, 12, 14, 16, 18\\]\n${POOL_SHARED}")

# Pool(os.cpu_count()).map(square, range(20)), close, join, timed. The pool
# has min(cpu_count, free workers) workers: with a single CPU, one worker.
set(POOL_ONE "items were computed by 1 different ranks\n")
set(POOL_MANY "([2-9]|[1-9][0-9]+)")
mpmp_example_test(pool_map_timed 3
  "Results: \\[0, 1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, 144, 169, 196, 225, 256, 289, 324, 361\\]\nTime taken: [0-9]+\\.[0-9][0-9][0-9][0-9] seconds\ncpu_count: (1, pool size: 1\n${POOL_ONE}|[0-9]+, pool size: ${POOL_MANY}\n${POOL_SHARED})")

# ProcessPoolExecutor(max_workers=cpu_count()).map(cpu_intensive, [10**6] * 8)
mpmp_example_test(executor_map_cpu 3
  "(^|\n)2666662666668000000\ncpu_count: (1, max_workers: 1\n${POOL_ONE}|[0-9]+, max_workers: ${POOL_MANY}\n${POOL_SHARED})")

# submit + as_completed: ten "item -> result" lines in the order the
# futures finish, then the results by item (-1 for an item never yielded).
# A regular expression cannot check ten lines in any order (nor have more
# than ten groups), so the pass pattern checks their form, and one failure
# pattern per item catches a line with a wrong result: "3 -> " followed by
# any number but 9.
string(REPEAT "[0-9] -> [0-9]+\n" 10 POOL_COMPLETED)
mpmp_example_test(executor_as_completed 4
  "(^|\n)${POOL_COMPLETED}results by item: ${POOL_SQ10}\n${POOL_SHARED}")
set(pool_wrong_lines)
foreach(item RANGE 9)
  math(EXPR square "${item} * ${item}")
  string(LENGTH "${square}" len)
  set(wrong)                                # digit strings other than square
  math(EXPR longer "${len} + 1")
  string(REPEAT "[0-9]" ${longer} digits)
  list(APPEND wrong "${digits}[0-9]*")      # longer
  math(EXPR last "${len} - 1")
  foreach(i RANGE ${last})
    if(i GREATER 0)                         # shorter
      string(REPEAT "[0-9]" ${i} digits)
      list(APPEND wrong "${digits}")
    endif()
    string(SUBSTRING "${square}" 0 ${i} same)  # same length, first differing at i
    string(SUBSTRING "${square}" ${i} 1 d)
    string(REPLACE "${d}" "" others "0123456789")
    math(EXPR rest "${len} - ${i} - 1")
    string(REPEAT "[0-9]" ${rest} digits)
    list(APPEND wrong "${same}[${others}]${digits}")
  endforeach()
  list(JOIN wrong "|" wrong)
  list(APPEND pool_wrong_lines "(^|\n)${item} -> (${wrong})\n")
endforeach()
# Set, not APPEND, and MPMP_TEST_FAIL_REGEX last: its "\\]" leaves CMake's
# list splitting inside an open bracket, so anything appended after it
# would be glued to it as one regular expression.
set_property(TEST example_executor_as_completed_np4 PROPERTY
  FAIL_REGULAR_EXPRESSION ${pool_wrong_lines} "${MPMP_TEST_FAIL_REGEX}")

# may_fail: item 5 raises "Can't process 5", the others return x ** 2
mpmp_example_test(executor_exceptions 4
  "(^|\n)Result: 0\nResult: 1\nResult: 4\nResult: 9\nResult: 16\nFailed: Can't process 5\nResult: 36\nResult: 49\nResult: 64\nResult: 81\n${POOL_SHARED}")

# chunked(range(1_000_000), 10000) through executor.map, results.extend
mpmp_example_test(executor_chunked 4
  "(^|\n)len\\(results\\): 1000000\nsum\\(results\\): 333332833333500000\nresults\\[i\\] == i \\*\\* 2 for every i\n${POOL_SHARED}")

# A map with a crashing task in task hosts (README, "When a task crashes"):
# the bad record's item fails with MPMP_ECRASHED naming signal 11, the
# other seven results are right, and the pool maps again.
mpmp_example_test(pool_isolated 3
  "map: MPMP_ECRASHED\nitem 5 failed: task 'parse' crashed on item 5 on rank [12]: its host process killed by signal 11 \\(Segmentation fault\\)\n0 10 20 30 40 60 70\nagain: item 5 = 50\n")

# The word count over 1900 lines of text (the Zen of Python 100 times):
# variable-size lines in, variable-size Counters out (map_var), merged on
# the main rank; the same again as a stream (imap_unordered_var). The
# figures are Python's for the program in the example's comment.
mpmp_example_test(word_count 4
  "1900 lines: 13600 words, 80 distinct\nis 1000\nbetter 800\nthan 800\nthe 500\nto 500\nimap_unordered: 13600 words, 80 distinct: the same\n${POOL_W}${POOL_SHARED}")
