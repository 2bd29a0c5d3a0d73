// Files for fuzz targets whose readers take paths: a folder of the
// process's own, made once, and removed when the process exits normally.
#ifndef HP_FUZZ_SCRATCH_FILES_H_
#define HP_FUZZ_SCRATCH_FILES_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace hp::fuzz {

// The folder: under $TEST_TMPDIR, else $TMPDIR, else /tmp. Aborts when it
// cannot be made (nothing can be fuzzed then).
const std::string& ScratchDir();

// Writes `size` bytes to ScratchDir()/name, replacing what was there, and
// returns the path. Aborts on a write error.
std::string WriteScratchFile(const std::string& name, const uint8_t* data,
                             size_t size);

}  // namespace hp::fuzz

#endif  // HP_FUZZ_SCRATCH_FILES_H_
