#ifndef LIBRA_SRC_CORE_IO_JSON_INTEGER_H_
#define LIBRA_SRC_CORE_IO_JSON_INTEGER_H_

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

namespace libra {

// A JSON value as a whole number in [min, max], or nullopt when it is not one:
// a fraction, a string, or a number out of range (nlohmann parses an integer
// past uint64's range as floating point). Checked before any conversion:
// floating point to an integer out of range is undefined, and a wide integer
// narrowed wraps to a small one that later range checks would accept.
inline std::optional<int64_t> JsonInteger(const nlohmann::json& value, int64_t min, int64_t max) {
  if (!value.is_number_integer()) return std::nullopt;
  if (value.is_number_unsigned()) {
    const uint64_t number = value.get<uint64_t>();
    if (max < 0 || number > static_cast<uint64_t>(max)) return std::nullopt;
    if (min > 0 && number < static_cast<uint64_t>(min)) return std::nullopt;
    return static_cast<int64_t>(number);
  }
  const int64_t number = value.get<int64_t>();
  if (number < min || number > max) return std::nullopt;
  return number;
}

}  // namespace libra

#endif  // LIBRA_SRC_CORE_IO_JSON_INTEGER_H_
