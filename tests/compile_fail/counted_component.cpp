// SPDX-License-Identifier: Apache-2.0
// The control of uncounted_component.cpp: with its parameter_count declared after the library's
// headers, param_count finds it by ADL and the snippet compiles.
#define TEMPLLM_CONTROL
#include "uncounted_component.cpp"
