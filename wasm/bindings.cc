#include <emscripten/bind.h>
#include "src/core/tensor.h"
#include "src/core/io/safetensors.h"
std::string Version() { return "libra"; }
EMSCRIPTEN_BINDINGS(libra) { emscripten::function("version", &Version); }
