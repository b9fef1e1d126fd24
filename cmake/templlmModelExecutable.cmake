# templlm_add_model_executable(<target> MODEL <description type>): filled in by the runtime issue.
