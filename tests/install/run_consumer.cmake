# Script mode: install, configure the consumer, build it, run it.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
run(${CMAKE_COMMAND} --install ${TEMPLLM_BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${WORK_DIR}/build -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DEXPECT_CUDA=${CUDA_ENABLED})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
run(${WORK_DIR}/build/consumer)
# examples/host_app, the ~40-line chat program, must build against the installed package too.
run(${CMAKE_COMMAND} -S ${HOST_APP_SOURCE} -B ${WORK_DIR}/host_app -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/host_app -j2)
# examples/out_of_tree adds a mechanism (Qwen2-MoE's gated shared expert) without touching the
# library: built against the installed package, it must match its transformers fixture.
run(${CMAKE_COMMAND} -S ${OUT_OF_TREE_SOURCE} -B ${WORK_DIR}/out_of_tree -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/out_of_tree -j2)
run(${WORK_DIR}/out_of_tree/out_of_tree_qwen2_moe ${OUT_OF_TREE_FIXTURE})
