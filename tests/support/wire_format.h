// Protobuf wire format written by hand, so that tests control the exact
// bytes, including fields and encodings protobuf itself would not write.
#ifndef HP_TESTS_SUPPORT_WIRE_FORMAT_H_
#define HP_TESTS_SUPPORT_WIRE_FORMAT_H_

#include <cstdint>
#include <string>

namespace hp {
namespace wire_format {

std::string Varint(uint64_t value);
// A field of wire type 0 (varint).
std::string VarintField(int number, uint64_t value);
// A field of wire type 2 (length-delimited).
std::string BytesField(int number, const std::string& bytes);
// A field of wire type 1 (64-bit, little-endian).
std::string Fixed64Field(int number, uint64_t value);

}  // namespace wire_format
}  // namespace hp

#endif  // HP_TESTS_SUPPORT_WIRE_FORMAT_H_
