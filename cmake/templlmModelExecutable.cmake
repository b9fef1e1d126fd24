# templlm_add_model_executable(<target> MODEL <description type>)
#
# Builds a small generation CLI specialised for one model description (e.g.
# templlm::model::Qwen3_30B_A3B): only that description's templates are instantiated, so it
# compiles much faster and is much smaller than the general `templlm` tool. Usage of the result:
#   <target> --model DIR [--prompt TEXT | --ids 1,2,3] [--max-tokens N] [--temperature T]
#            [--top-p P] [--seed S] [--threads N]
set(TEMPLLM_MODEL_MAIN_SOURCE ${CMAKE_CURRENT_LIST_DIR}/templlm_model_main.cpp CACHE INTERNAL "")

function(templlm_add_model_executable target)
  cmake_parse_arguments(ARG "" "MODEL" "" ${ARGN})
  if(NOT ARG_MODEL)
    message(FATAL_ERROR "templlm_add_model_executable(${target}): MODEL <description type> is required")
  endif()
  add_executable(${target} ${TEMPLLM_MODEL_MAIN_SOURCE})
  target_compile_definitions(${target} PRIVATE TEMPLLM_MODEL=${ARG_MODEL} TEMPLLM_MODEL_TYPE_NAME="${ARG_MODEL}")
  target_link_libraries(${target} PRIVATE templlm::templlm)
endfunction()
