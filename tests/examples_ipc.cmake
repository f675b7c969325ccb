# The tutorials' Process, Queue, Pipe, Manager, shared_memory and start-up
# guard examples (apps/examples), checked by what they print.
#
#   ipc_example_test(name np [ARGS a...] EXPECT block... [FORBID re...]
#                    [RANKS re k [re k]...])
#
# runs the example under scripts/run-mpi.sh with np ranks, as test
# example_<name>_np<np> (labels mpi and example, like mpmp_example_test),
# and passes when the program exits with 0 and
#   - every EXPECT block is found: a block is lines of regexes, one per
#     output line (matched whole), to be found in this order, other lines
#     between them allowed; "@R@" in a block stands for one worker rank
#     number, the same in all its lines (the block passes if it holds for
#     some rank 1..np-1);
#   - no FORBID regex matches the output;
#   - for each RANKS pair, the ranks captured by the first group of `re` in
#     the output are all worker ranks (>= 1), at least k different ones.
#     A process that has ended gives its rank to the next start, so k > 1
#     only for processes that surely overlap in time (their bodies sleep).
# ARGS go to the program. No regex may hold a ';'.
#
# Why not mpmp_example_test's PASS_REGULAR_EXPRESSION: that is one regex (a
# list of them means any one matches), so it fixes one order for all the
# lines it checks, and the lines of different ranks reach mpirun's output in
# any order, even lines that a join orders (measured: in 10 runs of 20 of a
# start-join-print loop a worker's line came out after the main rank's next
# line). So each block here checks the lines of one rank, whose order
# mpirun keeps, and all blocks must hold.
#
# This file is also the checker: each test runs it with `cmake -P`.

if(CMAKE_SCRIPT_MODE_FILE) # ---- the checker ---------------------------------
  cmake_minimum_required(VERSION 3.16)

  # The lines of `text` as a list; "[", "]" and ";" (which list() would
  # act on) are kept as placeholders that ipc_restore() puts back.
  function(ipc_lines out text)
    string(REPLACE ";" "<sc>" text "${text}")
    string(REPLACE "[" "<lb>" text "${text}")
    string(REPLACE "]" "<rb>" text "${text}")
    string(REPLACE "\n" ";" text "${text}")
    set(${out} "${text}" PARENT_SCOPE)
  endfunction()
  macro(ipc_restore var)
    string(REPLACE "<sc>" ";" ${var} "${${var}}")
    string(REPLACE "<lb>" "[" ${var} "${${var}}")
    string(REPLACE "<rb>" "]" ${var} "${${var}}")
  endmacro()

  # found = TRUE when the line regexes of `block` match output lines in order
  function(ipc_find found block)
    ipc_lines(want "${block}")
    list(LENGTH out_lines n)
    set(i 0)
    foreach(re IN LISTS want)
      if(re STREQUAL "")
        continue()
      endif()
      ipc_restore(re)
      set(hit FALSE)
      while(i LESS n)
        list(GET out_lines ${i} line)
        math(EXPR i "${i} + 1")
        ipc_restore(line)
        if(line MATCHES "^(${re})$")
          set(hit TRUE)
          break()
        endif()
      endwhile()
      if(NOT hit)
        set(${found} FALSE PARENT_SCOPE)
        return()
      endif()
    endforeach()
    set(${found} TRUE PARENT_SCOPE)
  endfunction()

  execute_process(
    COMMAND bash "${RUN_MPI}" --timeout 60 -n "${NP}" "${PROG}" ${PROG_ARGS}
    OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
  message("${out}")
  ipc_lines(out_lines "${out}")
  set(failed "")
  if(NOT rc STREQUAL "0")
    string(APPEND failed "\n  exit status ${rc}")
  endif()
  math(EXPR last_worker "${NP} - 1")
  foreach(b RANGE 1 ${N_EXPECT})
    set(block "${EXPECT_${b}}")
    if(block MATCHES "@R@")
      set(found FALSE)
      foreach(r RANGE 1 ${last_worker})
        string(REPLACE "@R@" "${r}" one "${block}")
        ipc_find(found "${one}")
        if(found)
          break()
        endif()
      endforeach()
    else()
      ipc_find(found "${block}")
    endif()
    if(NOT found)
      string(APPEND failed "\n  missing, in this order:\n${block}")
    endif()
  endforeach()
  if(N_FORBID GREATER 0)
    foreach(i RANGE 1 ${N_FORBID})
      if(out MATCHES "${FORBID_${i}}")
        string(APPEND failed "\n  forbidden: ${FORBID_${i}} matched '${CMAKE_MATCH_0}'")
      endif()
    endforeach()
  endif()
  if(N_RANKS GREATER 0)
    foreach(i RANGE 1 ${N_RANKS})
      string(REGEX MATCHALL "${RANKS_${i}}" hits "${out}")
      set(ranks "")
      foreach(hit IN LISTS hits)
        string(REGEX MATCH "${RANKS_${i}}" hit "${hit}")
        if(CMAKE_MATCH_1 LESS 1)
          string(APPEND failed "\n  on the main rank: '${hit}'")
        endif()
        list(APPEND ranks ${CMAKE_MATCH_1})
      endforeach()
      list(REMOVE_DUPLICATES ranks)
      list(LENGTH ranks n)
      if(n LESS DISTINCT_${i})
        string(APPEND failed "\n  ${n} worker rank(s) [${ranks}] where ${DISTINCT_${i}} different ones should run: ${RANKS_${i}}")
      endif()
    endforeach()
  endif()
  if(failed)
    message(FATAL_ERROR "example ${PROG}:${failed}")
  endif()
  return()
endif()

# ---- the tests ----------------------------------------------------------------

set(IPC_CHECKER "${CMAKE_CURRENT_LIST_FILE}")

function(ipc_example_test name np)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "ARGS;EXPECT;FORBID;RANKS")
  if(arg_UNPARSED_ARGUMENTS OR NOT arg_EXPECT)
    message(FATAL_ERROR "ipc_example_test(${name}): EXPECT is required; unknown: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  set(defs -DRUN_MPI=${MPMP_RUN_MPI} -DNP=${np} -DPROG=$<TARGET_FILE:${name}>)
  if(arg_ARGS)
    string(REPLACE ";" "\\;" args "${arg_ARGS}")
    list(APPEND defs "-DPROG_ARGS=${args}")
  endif()
  foreach(kind EXPECT FORBID)
    set(i 0)
    foreach(re IN LISTS arg_${kind})
      math(EXPR i "${i} + 1")
      list(APPEND defs "-D${kind}_${i}=${re}")
    endforeach()
    list(APPEND defs -DN_${kind}=${i})
  endforeach()
  set(i 0)
  while(arg_RANKS)
    list(POP_FRONT arg_RANKS re k)
    if(NOT k MATCHES "^[1-9][0-9]*$")
      message(FATAL_ERROR "ipc_example_test(${name}): RANKS wants pairs of a regex and a count")
    endif()
    math(EXPR i "${i} + 1")
    list(APPEND defs "-DRANKS_${i}=${re}" -DDISTINCT_${i}=${k})
  endwhile()
  list(APPEND defs -DN_RANKS=${i})
  add_test(NAME example_${name}_np${np}
           COMMAND ${CMAKE_COMMAND} ${defs} -P "${IPC_CHECKER}")
  set_tests_properties(example_${name}_np${np} PROPERTIES TIMEOUT 90
    ENVIRONMENT "${MPMP_SANITIZER_ENV}"
    PROCESSORS ${np}
    LABELS "mpi;example"
    FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}")
endfunction()

# "Now Process <pid> (rank <r>) | is calculating square <i>" for x and for
# x reversed, each on one worker rank; the forms of mp6, mp7 and mp9 for x.
set(mp4_up "")
set(mp4_down "")
set(mp7_up "")
foreach(i RANGE 1 9)
  math(EXPR j "10 - ${i}")
  string(APPEND mp4_up "Now Process [0-9]+ \\(rank @R@\\) \\| is calculating square ${i}\n")
  string(APPEND mp4_down "Now Process [0-9]+ \\(rank @R@\\) \\| is calculating square ${j}\n")
  string(APPEND mp7_up "Process [0-9]+ \\(rank @R@\\) is calculating square of ${i}\n")
endforeach()
string(REPEAT "before the guard.*" 4 guard_4_times)
string(REPEAT "Consumed: .*" 6 consumed_6_times)
# "0, 1, 2, 3|0, 1, 3, 2|...": the 24 orders of 0, 1, 2 and 3
set(orders_of_0123 "")
foreach(a RANGE 3)
  foreach(b RANGE 3)
    foreach(c RANGE 3)
      math(EXPR d "6 - ${a} - ${b} - ${c}")
      if(NOT (a EQUAL b OR a EQUAL c OR b EQUAL c OR d LESS 0 OR d GREATER 3
              OR d EQUAL a OR d EQUAL b OR d EQUAL c))
        list(APPEND orders_of_0123 "${a}, ${b}, ${c}, ${d}")
      endif()
    endforeach()
  endforeach()
endforeach()
string(REPLACE ";" "|" orders_of_0123 "${orders_of_0123}")
set(mp4_ranks "Now Process [0-9]+ \\(rank ([0-9]+)\\)")
set(mp7_ranks "Process [0-9]+ \\(rank ([0-9]+)\\) is calculating")

# ---- Process ----------------------------------------------------------------

ipc_example_test(process_sum_squares 4 ARGS 0.05
  EXPECT "${mp4_up}" "${mp4_down}"
         "Results: {'res1': 285, 'res2': 285}
Done"
  RANKS "${mp4_ranks}" 2)

ipc_example_test(process_worker_count 3
  EXPECT "Process-1: 0\nProcess-1: 1\nProcess-1: 2\nProcess-1: 3\nProcess-1: 4"
         "Process-2: 0\nProcess-2: 1\nProcess-2: 2\nProcess-2: 3\nProcess-2: 4"
         "Process-1 ran on rank [0-9]+ \\(pid [0-9]+\\)
Process-2 ran on rank [0-9]+ \\(pid [0-9]+\\)"
  RANKS "Process-[12] ran on rank ([0-9]+)" 1)

ipc_example_test(process_print_numbers 2
  EXPECT "Number: 0\nNumber: 1\nNumber: 2\nNumber: 3\nNumber: 4\n0\n1\n2\n3\n4"
  RANKS "Process-[12] ran on rank ([0-9]+)" 1)

ipc_example_test(process_tasks 4 ARGS 0.2
  EXPECT "Task Process-0 is starting\\.\\.\\.\nTask Process-0 is complete\\."
         "Task Process-1 is starting\\.\\.\\.\nTask Process-1 is complete\\."
         "Task Process-2 is starting\\.\\.\\.\nTask Process-2 is complete\\."
         "Process-1 ran on .*\nProcess-2 ran on .*\nProcess-3 ran on .*
All processes are complete\\.
Process-4 ran on .*\nProcess-5 ran on .*"
         "Running task: Process 1" "Running task: Process 2"
  RANKS "Process-[123] ran on rank ([0-9]+)" 3
        "Process-[45] ran on rank ([0-9]+)" 1)

ipc_example_test(process_worker_function 2 ARGS 0.2
  EXPECT "Main process ID: [0-9]+ \\(rank 0\\)
Main program continues to run while worker is executing\\.\\.\\.
Worker process has finished\\. Main program exiting\\."
         "Worker 'Alice' started\\. Process ID: [0-9]+ \\(rank @R@\\)
Worker 'Alice' finished\\."
  RANKS "Worker 'Alice' started\\. Process ID: [0-9]+ \\(rank ([0-9]+)\\)" 1)

ipc_example_test(main_guard 3
  EXPECT "before the guard: pid [0-9]+ \\(every rank runs this\\)
before the guard: pid [0-9]+ \\(every rank runs this\\)
before the guard: pid [0-9]+ \\(every rank runs this\\)"
         "main: MainProcess, pid [0-9]+, rank 0 of 3 ranks\nmain: setting = 42"
         "worker: Process-1, pid [0-9]+, rank @R@, sees setting = 1"
         "a worker rank \\(pid [0-9]+\\) leaves main\\(\\)
a worker rank \\(pid [0-9]+\\) leaves main\\(\\)"
  FORBID "${guard_4_times}" "main: MainProcess.*main: MainProcess"
         "leaves main.*leaves main.*leaves main"
  RANKS "rank ([0-9]+), sees setting" 1)

# ---- Queue ------------------------------------------------------------------

ipc_example_test(queue_even_numbers 3 ARGS 0.05
  EXPECT "${mp4_up}" "${mp4_down}"
         "Received: 2\nReceived: 4\nReceived: 6\nReceived: 8
Received: 8\nReceived: 6\nReceived: 4\nReceived: 2\nDone"
  FORBID "Received: [^2468]"
  RANKS "${mp4_ranks}" 2)

ipc_example_test(queue_producer_consumer 3
  EXPECT "Got: 0\nGot: 1\nGot: 2\nGot: 3\nGot: 4\nGot: 5\nGot: 6\nGot: 7\nGot: 8\nGot: 9"
         "producer ran on rank [0-9]+ \\(pid [0-9]+\\)
consumer ran on rank [0-9]+ \\(pid [0-9]+\\)"
  FORBID "Got: ([^0-9]|.[^\n])"
  RANKS "[a-z]+ ran on rank ([0-9]+)" 1)

ipc_example_test(queue_items_sentinel 3 ARGS 0.05
  EXPECT "Produced: Item 0\nProduced: Item 1\nProduced: Item 2\nProduced: Item 3\nProduced: Item 4"
         "Consumed: Item 0\nConsumed: Item 1\nConsumed: Item 2\nConsumed: Item 3\nConsumed: Item 4"
         "producer ran on .*\nconsumer ran on .*\nAll tasks finished\\."
  FORBID "${consumed_6_times}"
  RANKS "[a-z]+ ran on rank ([0-9]+)" 2)

ipc_example_test(queue_produce_then_consume 2
  EXPECT "Produced: 0\nProduced: 1\nProduced: 2\nProduced: 3\nProduced: 4"
         "Consumed: 0\nConsumed: 1\nConsumed: 2\nConsumed: 3\nConsumed: 4"
         "producer ran on .*\nconsumer ran on .*"
  FORBID "${consumed_6_times}"
  RANKS "[a-z]+ ran on rank ([0-9]+)" 1)

ipc_example_test(queue_hello 2
  EXPECT "Hello from process\nworker ran on rank [0-9]+ \\(pid [0-9]+\\)"
  RANKS "worker ran on rank ([0-9]+)" 1)

# ---- Pipe -------------------------------------------------------------------

ipc_example_test(pipe_evens_sum 2 ARGS 0.05
  EXPECT "Process [0-9]+ \\(rank @R@\\) is calculating square of 1
Process [0-9]+ \\(rank @R@\\) is calculating square of 2
Process [0-9]+ \\(rank @R@\\) is calculating square of 3
Process [0-9]+ \\(rank @R@\\) is calculating square of 4
Process [0-9]+ \\(rank @R@\\) is calculating square of 5
Process [0-9]+ \\(rank @R@\\) is calculating square of 6"
         "Even numbers: \\[2, 4, 6\\]\nTotal sum of squares: 91"
  FORBID "square of [7-9]"
  RANKS "${mp7_ranks}" 1)

ipc_example_test(pipe_sender_receiver 3
  EXPECT "Received: Hello from sender!"
         "sender ran on rank [0-9]+ \\(pid [0-9]+\\)
receiver ran on rank [0-9]+ \\(pid [0-9]+\\)"
  RANKS "[a-z]+ ran on rank ([0-9]+)" 1)

ipc_example_test(pipe_hello_upper 2
  EXPECT "--- Starting Multiprocessing Pipe Example ---
\\[Pipe Parent, PID: [0-9]+, rank 0\\] Sending message: 'hello from parent'
\\[Pipe Parent, PID: [0-9]+, rank 0\\] Received response: 'HELLO FROM PARENT'
--- Pipe Example Finished ---"
         "\\[Pipe Child, PID: [0-9]+, rank @R@\\] Waiting to receive a message\\.\\.\\.
\\[Pipe Child, PID: [0-9]+, rank @R@\\] Received: 'hello from parent'
\\[Pipe Child, PID: [0-9]+, rank @R@\\] Sent response: 'HELLO FROM PARENT'"
  RANKS "\\[Pipe Child, PID: [0-9]+, rank ([0-9]+)\\]" 1)

# ---- Manager ----------------------------------------------------------------

ipc_example_test(manager_dict_sum 3 ARGS 0.05
  EXPECT "${mp7_up}" "Total sum of squares: 285"
  RANKS "${mp7_ranks}" 1)

# 1 main + 1 server + 4 processes; the list in the order the processes
# reached the server: any order of 0, 1, 2, 3. The bodies are short: one
# may end before the next starts and give it its rank.
ipc_example_test(manager_dict_list 6
  EXPECT "Process-[0-9]+ ran on .*\nProcess-[0-9]+ ran on .*\nProcess-[0-9]+ ran on .*\nProcess-[0-9]+ ran on .*
{'key0': 0, 'key1': 1, 'key2': 2, 'key3': 3}
\\[(${orders_of_0123})\\]"
  RANKS "Process-[0-9]+ ran on rank ([0-9]+)" 1)

# ---- shared_memory ----------------------------------------------------------

ipc_example_test(shm_read_array 2
  EXPECT "read_data: process [0-9]+ \\(rank @R@\\) attached psm_[0-9a-f]+
Data imported: \\[1\\.1 2\\.2 3\\.3 4\\.4\\]"
  RANKS "read_data: process [0-9]+ \\(rank ([0-9]+)\\)" 1)

ipc_example_test(shm_result_slot 2 ARGS 0.02
  EXPECT "${mp7_up}" "Final shared memory results: \\[285\\]"
  RANKS "${mp7_ranks}" 1)

ipc_example_test(shm_double_in_place 2
  EXPECT "\\[1 2 3 4 5\\]\n\\[ 2  4  6  8 10\\]"
         "worker: process [0-9]+ \\(rank @R@\\) doubled psm_[0-9a-f]+ in place"
  RANKS "worker: process [0-9]+ \\(rank ([0-9]+)\\) doubled" 1)

# ---- Value (the lines of the two workers and the main rank's, each in
# its own block: a worker's line may come out after the main rank's final
# line, which the join orders only inside the program) -------------------

ipc_example_test(value_counter 3
  EXPECT "pid [0-9]+ \\(rank @R@\\) added 100000"
         "Final Counter Value: 200000\n11"
  RANKS "pid [0-9]+ \\(rank ([0-9]+)\\) added 100000" 2)
