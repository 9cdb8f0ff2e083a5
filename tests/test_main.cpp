// The Catch2 main for chipgym_unit_tests; the test files only include catch.hpp.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
