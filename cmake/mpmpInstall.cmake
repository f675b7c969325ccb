# Install rules and the files that let other projects use an installed mpmp:
#
#   find_package(mpmp REQUIRED)               # <prefix>/<libdir>/cmake/mpmp/
#   target_link_libraries(app PRIVATE mpmp::mpmp)   # or mpmp::mpmp_static
#
#   cc app.c $(pkg-config --cflags --libs mpmp)     # <prefix>/<libdir>/pkgconfig/
#
# Included from the top CMakeLists.txt once the targets mpmp (shared) and
# mpmp_static (static, OUTPUT_NAME mpmp) exist. Install components:
# "Runtime" (the shared library) and "Development" (everything else here).
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)
include(CheckCSourceCompiles)

set(MPMP_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/mpmp" CACHE STRING
    "Where mpmpConfig.cmake is installed, relative to the prefix")
set(MPMP_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig" CACHE STRING
    "Where mpmp.pc is installed, relative to the prefix")
mark_as_advanced(MPMP_INSTALL_CMAKEDIR MPMP_INSTALL_PKGCONFIGDIR)

# --- libraries and headers ---------------------------------------------------

install(TARGETS mpmp mpmp_static
  EXPORT mpmpTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
          COMPONENT Runtime NAMELINK_COMPONENT Development
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Development
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT Runtime)

# Public headers only: src/ holds the private ones.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT Development
  FILES_MATCHING PATTERN "*.h")
install(FILES "${PROJECT_BINARY_DIR}/include/mpmp/version.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/mpmp" COMPONENT Development)

# The licence goes with every copy (BSD-3-Clause, clause 2), with the
# README and the change log beside it: <prefix>/share/doc/mpmp.
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" "${PROJECT_SOURCE_DIR}/README.md"
              "${PROJECT_SOURCE_DIR}/CHANGELOG.md"
  DESTINATION "${CMAKE_INSTALL_DOCDIR}" COMPONENT Development)

# --- programs installed after this file (apps/: mpmp-info, ...) -------------

# An installed program must find libmpmp wherever the prefix is, without
# LD_LIBRARY_PATH: its RPATH names the library directory relative to the
# program's own ($ORIGIN), so a prefix that is moved or copied elsewhere
# still works. Dependencies outside the system directories (an MPI in
# /opt/...) are added as the absolute directories they were linked from.
# Set here, before apps/ makes its targets, so it does not apply to the
# libraries themselves (their dependencies are in their RUNPATH's reach
# through the program).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}")
  set(CMAKE_INSTALL_RPATH "${CMAKE_INSTALL_FULL_LIBDIR}")
else()
  file(RELATIVE_PATH _mpmp_bin_to_lib "/prefix/${CMAKE_INSTALL_BINDIR}"
                                       "/prefix/${CMAKE_INSTALL_LIBDIR}")
  set(CMAKE_INSTALL_RPATH "$ORIGIN/${_mpmp_bin_to_lib}")
endif()
set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON)

# --- CMake package -----------------------------------------------------------

# The exported targets keep their INTERFACE_LINK_OPTIONS (-rdynamic), and
# mpmp::mpmp_static its link-only dependencies (hwloc, dl), which
# mpmpConfig.cmake finds.
install(EXPORT mpmpTargets
  NAMESPACE mpmp::
  FILE mpmpTargets.cmake
  DESTINATION "${MPMP_INSTALL_CMAKEDIR}" COMPONENT Development)

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/mpmpConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/mpmpConfig.cmake"
  INSTALL_DESTINATION "${MPMP_INSTALL_CMAKEDIR}")
# The major version is the SOVERSION: same major, same ABI.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/mpmpConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/mpmpConfig.cmake"
              "${PROJECT_BINARY_DIR}/mpmpConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/mpmpMpiFlavour.cmake"
  DESTINATION "${MPMP_INSTALL_CMAKEDIR}" COMPONENT Development)

# --- pkg-config --------------------------------------------------------------

# MPI: name the MPI's own .pc file in Requires when there is one for the MPI
# that CMake found (ompi-c for Open MPI, mpich for MPICH, Debian's mpi-c for
# either), so the flags follow the installed MPI; else copy CMake's flags.
# A candidate is taken only if its include directories are the found MPI's.
set(MPMP_PC_REQUIRES "")
set(MPMP_PC_MPI_CFLAGS "")
set(MPMP_PC_MPI_LIBS "")
set(_mpmp_mpi_incs "")
foreach(dir IN LISTS MPI_C_INCLUDE_DIRS)
  get_filename_component(dir "${dir}" REALPATH)
  list(APPEND _mpmp_mpi_incs "${dir}")
endforeach()
foreach(mod ompi-c mpich mpi-c)
  string(MAKE_C_IDENTIFIER "_mpmp_pc_${mod}" pfx)
  pkg_check_modules(${pfx} QUIET ${mod})
  if(NOT ${pfx}_FOUND OR NOT ${pfx}_INCLUDE_DIRS)
    continue()
  endif()
  set(match TRUE)
  foreach(dir IN LISTS ${pfx}_INCLUDE_DIRS)
    get_filename_component(dir "${dir}" REALPATH)
    if(NOT dir IN_LIST _mpmp_mpi_incs)
      set(match FALSE)
    endif()
  endforeach()
  if(match)
    set(MPMP_PC_REQUIRES "${mod}")
    break()
  endif()
endforeach()
if(NOT MPMP_PC_REQUIRES)
  foreach(dir IN LISTS MPI_C_INCLUDE_DIRS)
    string(APPEND MPMP_PC_MPI_CFLAGS " -I${dir}")
  endforeach()
  foreach(def IN LISTS MPI_C_COMPILE_DEFINITIONS)
    string(APPEND MPMP_PC_MPI_CFLAGS " -D${def}")
  endforeach()
  foreach(opt IN LISTS MPI_C_COMPILE_OPTIONS)
    string(APPEND MPMP_PC_MPI_CFLAGS " ${opt}")
  endforeach()
  foreach(opt IN LISTS MPI_C_LINK_FLAGS)
    string(APPEND MPMP_PC_MPI_LIBS " ${opt}")
  endforeach()
  foreach(lib IN LISTS MPI_C_LIBRARIES)
    string(APPEND MPMP_PC_MPI_LIBS " ${lib}")
  endforeach()
  message(STATUS "mpmp.pc: no pkg-config module for this MPI; copying its flags")
else()
  message(STATUS "mpmp.pc: MPI from pkg-config module ${MPMP_PC_REQUIRES}")
endif()

# What a static link adds: hwloc, threads and the plain system libraries the
# library links (dl, m, ...), read off the target.
#
# hwloc goes in Requires.private only when its own static line links here:
# Debian's hwloc.pc lists -ludev in Libs.private, and without libudev-dev
# there is no libudev.so to link, so `pkg-config --static --libs mpmp` would
# fail for every user. Otherwise the static line names hwloc's plain link
# flags (-lhwloc): a static libmpmp.a then links against the shared hwloc,
# which brings its own dependencies.
set(MPMP_PC_REQUIRES_PRIVATE "")
set(MPMP_PC_LIBS_PRIVATE "")
set(CMAKE_REQUIRED_LIBRARIES ${HWLOC_STATIC_LDFLAGS})
set(CMAKE_REQUIRED_QUIET ON)
check_c_source_compiles("int main(void) { return 0; }" MPMP_HWLOC_STATIC_LINKS)
unset(CMAKE_REQUIRED_LIBRARIES)
unset(CMAKE_REQUIRED_QUIET)
if(MPMP_HWLOC_STATIC_LINKS)
  set(MPMP_PC_REQUIRES_PRIVATE "hwloc")
else()
  # pkg-config's --libs omits the system directories; CMake's copy keeps
  # them, and they have no place in the .pc file.
  foreach(flag IN LISTS HWLOC_LDFLAGS)
    if(flag MATCHES "^-L(.*)" AND CMAKE_MATCH_1 IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
      continue()
    endif()
    string(APPEND MPMP_PC_LIBS_PRIVATE " ${flag}")
  endforeach()
  string(STRIP "${MPMP_PC_LIBS_PRIVATE}" MPMP_PC_LIBS_PRIVATE)
  string(REPLACE ";" " " _mpmp_hwloc_static "${HWLOC_STATIC_LDFLAGS}")
  message(STATUS "mpmp.pc: hwloc's static link line (${_mpmp_hwloc_static}) "
                 "does not link here; mpmp.pc names ${MPMP_PC_LIBS_PRIVATE} instead")
endif()
string(APPEND MPMP_PC_LIBS_PRIVATE " ${CMAKE_THREAD_LIBS_INIT}")
get_target_property(_mpmp_libs mpmp LINK_LIBRARIES)
foreach(lib IN LISTS _mpmp_libs)
  if(lib MATCHES "^[A-Za-z0-9_+-]+$" AND NOT TARGET "${lib}")
    string(APPEND MPMP_PC_LIBS_PRIVATE " -l${lib}")
  elseif(IS_ABSOLUTE "${lib}")
    string(APPEND MPMP_PC_LIBS_PRIVATE " ${lib}")
  endif()
endforeach()
string(REGEX REPLACE "  +" " " MPMP_PC_LIBS_PRIVATE "${MPMP_PC_LIBS_PRIVATE}")
string(STRIP "${MPMP_PC_LIBS_PRIVATE}" MPMP_PC_LIBS_PRIVATE)
# Task names in error messages come from dladdr(), which needs the program's
# symbols in its dynamic table; the CMake targets carry the same option.
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  set(MPMP_PC_LINK_OPTIONS "-rdynamic")
else()
  set(MPMP_PC_LINK_OPTIONS "")
endif()

# The prefix is found from the .pc file's own place (${pcfiledir}, which
# pkg-config and pkgconf both define), so an install prefix that is moved or
# copied elsewhere still works: <prefix>/lib/pkgconfig gives
# prefix=${pcfiledir}/../.. . A pkgconfig directory given as an absolute
# path has no fixed place in the prefix: the file then names the prefix
# given at install time (cmake --install --prefix P), filled in then.
if(IS_ABSOLUTE "${MPMP_INSTALL_PKGCONFIGDIR}")
  set(MPMP_PC_PREFIX "@MPMP_PC_PREFIX@")
else()
  file(RELATIVE_PATH _mpmp_pc_up "/prefix/${MPMP_INSTALL_PKGCONFIGDIR}" "/prefix")
  string(REGEX REPLACE "/$" "" _mpmp_pc_up "${_mpmp_pc_up}")
  set(MPMP_PC_PREFIX "\${pcfiledir}/${_mpmp_pc_up}")
endif()
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(MPMP_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(MPMP_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()

configure_file("${CMAKE_CURRENT_LIST_DIR}/mpmp.pc.in"
               "${PROJECT_BINARY_DIR}/mpmp.pc.stage" @ONLY)
unset(MPMP_PC_PREFIX)
install(CODE "
  set(MPMP_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/mpmp.pc.stage\"
                 \"${PROJECT_BINARY_DIR}/mpmp.pc\" @ONLY)
" COMPONENT Development)
install(FILES "${PROJECT_BINARY_DIR}/mpmp.pc"
  DESTINATION "${MPMP_INSTALL_PKGCONFIGDIR}" COMPONENT Development)
