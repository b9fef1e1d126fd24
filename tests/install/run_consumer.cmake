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
# CPU-only: with CUDAToolkit and CCCL unfindable, find_package(templlm) must still succeed.
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${WORK_DIR}/build -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DWANT_CUDA=OFF
    -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON -DCMAKE_DISABLE_FIND_PACKAGE_CCCL=ON)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
run(${WORK_DIR}/build/consumer)
# templlm_add_model_executable(... HEADER ...) for the out-of-tree description: its greedy
# continuation must be transformers' (tests/data/models/qwen2-moe-tiny/expected/greedy.json).
execute_process(COMMAND ${WORK_DIR}/build/consumer_qwen2_moe --model ${OUT_OF_TREE_FIXTURE}
    --ids 160,287,100,72,306,245,409,218,128,400,47,111,190,127,130,139 --max-tokens 8 --temperature 0
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(STRIP "${out}" out)
if(NOT rc EQUAL 0 OR NOT out STREQUAL "494,292,50,190,62,450,481,17")
  message(FATAL_ERROR "consumer_qwen2_moe: expected 494,292,50,190,62,450,481,17 (transformers), got '${out}' (${rc})\n${err}")
endif()
if(CUDA_ENABLED)
  # With CUDA: the cuda component must bring templlm::cuda (configure only).
  run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${WORK_DIR}/build_cuda -DCMAKE_BUILD_TYPE=Release
      -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DWANT_CUDA=ON)
endif()
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
