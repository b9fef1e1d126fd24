# templlm_add_model_executable(<target> MODEL <description type> [HEADER <file>])
#
# HEADER: the header that declares the description (and any components of your own), for a
# description that lives outside the library (e.g. MODEL my::Qwen2MoeTiny HEADER
# ${CMAKE_CURRENT_SOURCE_DIR}/qwen2_moe.hpp); the library's own descriptions need none.
#
# Builds a small generation CLI specialised for one model description (e.g.
# templlm::model::Qwen3_30B_A3B): only that description's templates are instantiated, so it
# compiles much faster and is much smaller than the general `templlm` tool. Usage of the result:
#   <target> --model DIR [--prompt TEXT | --ids 1,2,3] [--max-tokens N] [--temperature T]
#            [--top-p P] [--seed S] [--threads N]
set(TEMPLLM_MODEL_MAIN_SOURCE ${CMAKE_CURRENT_LIST_DIR}/templlm_model_main.cpp CACHE INTERNAL "")

function(templlm_add_model_executable target)
  cmake_parse_arguments(ARG "" "MODEL;HEADER" "" ${ARGN})
  if(NOT ARG_MODEL)
    message(FATAL_ERROR "templlm_add_model_executable(${target}): MODEL <description type> is required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "templlm_add_model_executable(${target}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  add_executable(${target} ${TEMPLLM_MODEL_MAIN_SOURCE})
  target_compile_definitions(${target} PRIVATE TEMPLLM_MODEL=${ARG_MODEL} TEMPLLM_MODEL_TYPE_NAME="${ARG_MODEL}")
  if(ARG_HEADER)
    get_filename_component(header "${ARG_HEADER}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    if(NOT EXISTS "${header}")
      message(FATAL_ERROR "templlm_add_model_executable(${target}): HEADER ${ARG_HEADER} does not exist")
    endif()
    target_compile_definitions(${target} PRIVATE "TEMPLLM_MODEL_HEADER=\"${header}\"")
  endif()
  target_link_libraries(${target} PRIVATE templlm::templlm)
endfunction()
