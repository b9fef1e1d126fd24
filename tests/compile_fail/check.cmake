# Script mode: compiles SRC with -fsyntax-only; passes when the compile fails and its output
# contains EXPECT (a failure for another reason must not pass), or, with EXPECT empty, when it
# compiles.
string(REPLACE "|" ";" extra "${EXTRA_INCLUDES}")
set(include_flags -I${INCLUDE} -I${HERE})
foreach(dir IN LISTS extra)
  list(APPEND include_flags -I${dir})
endforeach()
execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only ${include_flags} ${SRC}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(EXPECT STREQUAL "")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "expected ${SRC} to compile:\n${err}")
  endif()
  return()
endif()
if(rc EQUAL 0)
  message(FATAL_ERROR "expected ${SRC} not to compile")
endif()
string(FIND "${err}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SRC} failed to compile, but without the sentence '${EXPECT}':\n${err}")
endif()
