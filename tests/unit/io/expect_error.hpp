// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/io/expect_error.hpp
/// EXPECT that a call throws exactly the given templlm exception type and that its message
/// contains every given substring (file, tensor or field names, expected and found values).
#pragma once
#include <gtest/gtest.h>

#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>

namespace templlm::test {

template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string_view> needles) {
  try {
    f();
    ADD_FAILURE() << "expected an exception, none was thrown";
  } catch (const E& e) {
    const std::string what = e.what();
    for (std::string_view n : needles)
      EXPECT_NE(what.find(n), std::string::npos) << "'" << n << "' not in: " << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type; message: " << e.what();
  }
}

}  // namespace templlm::test
