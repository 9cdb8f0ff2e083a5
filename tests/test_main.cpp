// The Catch2 main of every test binary; the test files only include catch.hpp.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

int main(int argc, char** argv) {
  // A fixed score salt unless the caller chose one: tests get reproducible hidden vectors and
  // never create the installation's salt file in the real ~/.cache (env/salt.h). Tests of
  // the salt file unset it and point CHIPGYM_CACHE at a temporary directory.
  ::setenv("CHIPGYM_SCORE_SALT", "chipgym-tests", 0);
  return Catch::Session().run(argc, argv);
}
