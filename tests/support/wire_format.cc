#include "tests/support/wire_format.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace hp {
namespace wire_format {

std::string Varint(uint64_t value) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream output(&stream);
    output.WriteVarint64(value);
  }
  return bytes;
}

std::string VarintField(int number, uint64_t value) {
  return Varint(static_cast<uint64_t>(number) << 3 | 0) + Varint(value);
}

std::string BytesField(int number, const std::string& bytes) {
  return Varint(static_cast<uint64_t>(number) << 3 | 2) + Varint(bytes.size()) +
         bytes;
}

std::string Fixed64Field(int number, uint64_t value) {
  std::string bytes = Varint(static_cast<uint64_t>(number) << 3 | 1);
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<char>(value >> (8 * i)));
  return bytes;
}

}  // namespace wire_format
}  // namespace hp
