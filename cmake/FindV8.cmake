# Finds V8 as shipped by Debian's libnode (V8 10.2) and defines the imported target V8::V8.
#
# Search order:
#   1. V8_ROOT (cache variable or environment): a prefix holding include/ (or include/node/)
#      with v8.h and lib/ with libv8 or libnode.
#   2. The system libnode-dev (/usr/include/node, libnode.so).
#   3. A private prefix in the build tree, ${CMAKE_BINARY_DIR}/_deps/libnode. When it is absent,
#      libnode108 and libnode-dev are fetched with `apt-get download` and unpacked there with
#      `dpkg -x`; this is the path taken where a nodejs from another repository makes apt refuse
#      libnode-dev.
# The library is linked by full path, so CMake records its directory in the binary's RPATH and
# the program runs without LD_LIBRARY_PATH.

include(FindPackageHandleStandardArgs)

set(V8_ROOT "$ENV{V8_ROOT}" CACHE PATH "Prefix of a V8 installation to use instead of libnode")
set(_v8_private_prefix "${CMAKE_BINARY_DIR}/_deps/libnode")

function(_v8_search prefix_list out_inc out_lib)
  find_path(_inc v8.h PATHS ${prefix_list} PATH_SUFFIXES include/node include
            NO_DEFAULT_PATH NO_CACHE)
  find_library(_lib NAMES node v8 PATHS ${prefix_list}
               PATH_SUFFIXES lib lib/x86_64-linux-gnu lib/aarch64-linux-gnu lib64
               NO_DEFAULT_PATH NO_CACHE)
  set(${out_inc} "${_inc}" PARENT_SCOPE)
  set(${out_lib} "${_lib}" PARENT_SCOPE)
endfunction()

function(_v8_fetch_private prefix)
  find_program(_apt apt-get)
  find_program(_dpkg dpkg)
  if(NOT _apt OR NOT _dpkg)
    message(FATAL_ERROR "V8 not found: install libnode-dev, set V8_ROOT, or build on Debian "
                        "where apt-get can download libnode108 and libnode-dev")
  endif()
  set(_dl "${CMAKE_BINARY_DIR}/_deps/libnode-debs")
  file(MAKE_DIRECTORY "${_dl}")
  message(STATUS "Fetching libnode108 and libnode-dev into ${prefix}")
  execute_process(COMMAND ${_apt} download libnode108 libnode-dev
                  WORKING_DIRECTORY "${_dl}" RESULT_VARIABLE _rc ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    # Stale or missing package lists are the usual cause; refresh them once and retry.
    execute_process(COMMAND ${_apt} update -qq RESULT_VARIABLE _ignored OUTPUT_QUIET)
    execute_process(COMMAND ${_apt} download libnode108 libnode-dev
                    WORKING_DIRECTORY "${_dl}" RESULT_VARIABLE _rc ERROR_VARIABLE _err)
  endif()
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "apt-get download libnode108 libnode-dev failed (${_rc}): ${_err}\n"
                        "Run `apt-get update` first, or set V8_ROOT.")
  endif()
  file(GLOB _debs "${_dl}/*.deb")
  foreach(_deb IN LISTS _debs)
    execute_process(COMMAND ${_dpkg} -x "${_deb}" "${prefix}" RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "dpkg -x ${_deb} failed")
    endif()
  endforeach()
  file(REMOVE_RECURSE "${_dl}")
endfunction()

set(V8_SOURCE "")
if(V8_ROOT)
  _v8_search("${V8_ROOT}" V8_INCLUDE_DIR V8_LIBRARY)
  set(V8_SOURCE "V8_ROOT=${V8_ROOT}")
endif()
if(NOT V8_INCLUDE_DIR OR NOT V8_LIBRARY)
  _v8_search("/usr" V8_INCLUDE_DIR V8_LIBRARY)
  if(V8_INCLUDE_DIR AND V8_LIBRARY AND EXISTS "${V8_INCLUDE_DIR}/v8-version.h")
    set(V8_SOURCE "system libnode-dev")
  else()
    set(V8_INCLUDE_DIR "")
  endif()
endif()
if(NOT V8_INCLUDE_DIR OR NOT V8_LIBRARY)
  if(NOT EXISTS "${_v8_private_prefix}/usr/include/node/v8.h")
    _v8_fetch_private("${_v8_private_prefix}")
  endif()
  _v8_search("${_v8_private_prefix}/usr" V8_INCLUDE_DIR V8_LIBRARY)
  set(V8_SOURCE "private libnode in ${_v8_private_prefix}")
  set(V8_PRIVATE_PREFIX "${_v8_private_prefix}")
endif()

if(V8_INCLUDE_DIR AND EXISTS "${V8_INCLUDE_DIR}/v8-version.h")
  file(STRINGS "${V8_INCLUDE_DIR}/v8-version.h" _ver REGEX "define V8_(MAJOR|MINOR)_VERSION")
  string(REGEX REPLACE ".*MAJOR_VERSION ([0-9]+).*MINOR_VERSION ([0-9]+).*" "\\1.\\2"
         V8_VERSION "${_ver}")
endif()

find_package_handle_standard_args(V8 REQUIRED_VARS V8_LIBRARY V8_INCLUDE_DIR
                                  VERSION_VAR V8_VERSION)

if(V8_FOUND AND NOT TARGET V8::V8)
  message(STATUS "V8 ${V8_VERSION} from ${V8_SOURCE}: ${V8_LIBRARY}")
  # The real file behind libnode.so, so that packaging can install exactly what is linked.
  get_filename_component(V8_LIBRARY_REAL "${V8_LIBRARY}" REALPATH)
  add_library(V8::V8 UNKNOWN IMPORTED)
  set_target_properties(V8::V8 PROPERTIES IMPORTED_LOCATION "${V8_LIBRARY}"
                                          INTERFACE_INCLUDE_DIRECTORIES "${V8_INCLUDE_DIR}")
endif()
