# The MPI family of an mpi.h (issue 18): "Open MPI <major>" (each major
# version has its own ABI), "MPICH" (MPICH, Intel MPI, MVAPICH and Cray
# MPICH share one ABI), or "other". mpmp records the one it is built with
# (MPMP_MPI_FLAVOUR), and mpmpConfig.cmake compares a consumer's with it:
# a program built with another MPI would load two MPI libraries and die in
# mpmp_init (which checks too, at run time).
function(mpmp_mpi_flavour out)
  set(header "")
  foreach(dir IN LISTS MPI_C_HEADER_DIR MPI_CXX_HEADER_DIR MPI_C_INCLUDE_DIRS
                       MPI_CXX_INCLUDE_DIRS)
    if(dir AND EXISTS "${dir}/mpi.h")
      set(header "${dir}/mpi.h")
      break()
    endif()
  endforeach()
  set(flavour "")
  if(header)
    file(STRINGS "${header}" defines
         REGEX "^#define (OMPI_MAJOR_VERSION|MPICH_VERSION|I_MPI_VERSION) ")
    set(flavour "other")
    if(defines MATCHES "OMPI_MAJOR_VERSION ([0-9]+)")
      set(flavour "Open MPI ${CMAKE_MATCH_1}")
    elseif(defines MATCHES "MPICH_VERSION|I_MPI_VERSION")
      set(flavour "MPICH")
    endif()
  endif()
  set(${out} "${flavour}" PARENT_SCOPE)
  set(${out}_HEADER "${header}" PARENT_SCOPE)
endfunction()
